//! The real `tally` binary as a process: secrets never reach its logs or its
//! data dir, and `kill -9` loses no acknowledged token.

use crate::common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{assert_not_stored, bearer, str_of};
use reqwest::StatusCode;
use serde_json::{Value, json};

struct Tally {
    child: Child,
    base: String,
    admin: Option<String>,
    /// What it printed before listening.
    head: String,
    stdout: Option<BufReader<std::process::ChildStdout>>,
    /// Everything it writes to stderr, drained as it comes (a full pipe
    /// would block the server).
    stderr: Option<std::thread::JoinHandle<String>>,
    /// The same, readable while it runs.
    log: Arc<std::sync::Mutex<String>>,
}

impl Tally {
    /// Waits (up to a minute) until the log holds `needle`.
    async fn wait_for_log(&self, needle: &str) {
        for _ in 0..600 {
            if self.log.lock().unwrap().contains(needle) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!(
            "the log never said {needle:?}: {}",
            self.log.lock().unwrap()
        );
    }
}

impl Drop for Tally {
    /// A failed test leaves no server behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `tally serve` on a free loopback port and reads its first lines.
fn spawn(data: &std::path::Path, log: &str) -> Tally {
    spawn_with(data, log, &[])
}

fn spawn_with(data: &std::path::Path, log: &str, extra: &[&std::ffi::OsStr]) -> Tally {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tally"));
    command
        .args(["serve", "--data"])
        .arg(data)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra);
    spawn_command(command, log)
}

/// Starts `command` (a `tally serve`, perhaps behind a shell) as [`spawn`] does.
fn spawn_command(mut command: Command, log: &str) -> Tally {
    let child = command
        .env("RUST_LOG", log)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Owned by `Tally` from here on, whose Drop kills and reaps it.
    let mut tally = Tally {
        child,
        base: String::new(),
        admin: None,
        head: String::new(),
        stdout: None,
        stderr: None,
        log: Arc::default(),
    };
    let stderr = BufReader::new(tally.child.stderr.take().unwrap());
    let log = Arc::clone(&tally.log);
    tally.stderr = Some(std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let mut log = log.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
        log.lock().unwrap().clone()
    }));
    let mut stdout = BufReader::new(tally.child.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap_or(0) > 0,
            "tally exited before listening"
        );
        tally.head.push_str(&line);
        if let Some(token) = line.trim().strip_prefix("admin token: ") {
            tally.admin = Some(token.to_owned());
        }
        if let Some(url) = line.trim().strip_prefix("listening on ") {
            tally.base = url.to_owned();
            tally.stdout = Some(stdout);
            return tally;
        }
    }
}

async fn post(http: &reqwest::Client, url: String, auth: &str, body: Value) -> (StatusCode, Value) {
    let res = http
        .post(url)
        .header("Authorization", auth)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_never_reach_logs_or_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    // Everything of ours at trace; the wasm compiler's own trace output is
    // megabytes of IR and says nothing about requests.
    let mut tally = spawn(
        dir.path(),
        "trace,cranelift=info,wasmtime=info,regalloc2=info",
    );
    let admin = tally
        .admin
        .clone()
        .expect("first start prints the admin token");
    let (b, http) = (tally.base.clone(), reqwest::Client::new());

    let (st, _) = post(
        &http,
        format!("{b}/v1/projects"),
        &admin,
        json!({"id": "p1", "name": "P"}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    post(
        &http,
        format!("{b}/v1/projects/p1/environments"),
        &admin,
        json!({"id": "master", "name": "M"}),
    )
    .await;
    let (_, app) = post(
        &http,
        format!("{b}/v1/apps"),
        &admin,
        json!({"name": "A", "setupUrl": "http://127.0.0.1:3000/setup", "origins": ["http://127.0.0.1:3000"],
               "grants": [{"api": "content", "action": "read"}]}),
    )
    .await;
    let (_, inst) = post(
        &http,
        format!("{b}/v1/environments/master/installations"),
        &admin,
        json!({"appId": app["id"]}),
    )
    .await;
    let code = str_of(&inst, "setupCode");
    let installation = str_of(&inst["installation"], "id");
    let client_secret = str_of(&app, "clientSecret");
    // A failed exchange too: a wrong secret and a used code are logged paths.
    post(
        &http,
        format!("{b}/v1/app-exchange-token"),
        "",
        json!({"clientId": app["clientId"], "clientSecret": "x", "exchangeCode": code}),
    )
    .await;
    let (st, exchanged) = post(
        &http,
        format!("{b}/v1/app-exchange-token"),
        "",
        json!({"clientId": app["clientId"], "clientSecret": client_secret, "exchangeCode": code}),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    post(
        &http,
        format!("{b}/v1/app-exchange-token"),
        "",
        json!({"clientId": app["clientId"], "clientSecret": client_secret, "exchangeCode": code}),
    )
    .await;
    let app_token = str_of(&exchanged, "appToken");
    let (_, session) = post(
        &http,
        format!("{b}/v1/installations/{installation}/session-token"),
        &admin,
        json!({}),
    )
    .await;
    let (_, pat) = post(
        &http,
        format!("{b}/v1/tokens"),
        &admin,
        json!({"kind": "PAT", "name": "t", "environmentId": "master", "grants": [{"api": "content", "action": "read"}]}),
    )
    .await;
    let (_, rotated) = post(
        &http,
        format!("{b}/v1/tokens/{}/rotate", str_of(&pat, "tokenId")),
        &admin,
        json!({}),
    )
    .await;
    // Use the tokens, so authentication paths are logged too.
    let res = http
        .get(format!("{b}/v1/installations/{installation}"))
        .header("Authorization", bearer(&app_token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // A studio session opened with the admin token, and used: the store
    // keeps it (sealed), the log traces its use.
    let studio_cookie = common::studio_sign_in(&http, &b, &admin).await;
    assert_eq!(
        common::studio_projects(&http, &b, &studio_cookie).await,
        StatusCode::OK
    );

    // Stop gracefully (SIGTERM) and collect every line it wrote.
    Command::new("kill")
        .args(["-TERM", &tally.child.id().to_string()])
        .status()
        .unwrap();
    let status = tally.child.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0: {status}");
    let mut stdout = tally.head.clone();
    tally
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let stderr = tally.stderr.take().unwrap().join().unwrap();
    assert!(
        stderr.contains("shutting down"),
        "the trace log was captured: {stderr:.200}"
    );

    let admin_secret = admin.rsplit('.').next().unwrap().to_owned();
    let secrets = [
        ("admin token", admin_secret.clone()),
        (
            "studio session cookie",
            studio_cookie.split_once('=').unwrap().1.to_owned(),
        ),
        ("client secret", client_secret),
        ("setup code", code),
        (
            "app token",
            app_token.rsplit('.').next().unwrap().to_owned(),
        ),
        (
            "session token",
            str_of(&session, "token")
                .rsplit('.')
                .next()
                .unwrap()
                .to_owned(),
        ),
        (
            "PAT",
            str_of(&pat, "token").rsplit('.').next().unwrap().to_owned(),
        ),
        (
            "rotated PAT",
            str_of(&rotated, "token")
                .rsplit('.')
                .next()
                .unwrap()
                .to_owned(),
        ),
    ];
    for (what, secret) in &secrets {
        assert_eq!(secret.len(), 43, "{what}");
        assert!(
            !stderr.contains(secret.as_str()),
            "the log holds the {what}"
        );
        let expected = usize::from(what == &"admin token");
        assert_eq!(
            stdout.matches(secret.as_str()).count(),
            expected,
            "stdout and the {what}"
        );
        assert_not_stored(dir.path(), secret);
    }

    // A restart signs no one out: the session is in the data dir.
    let again = spawn(dir.path(), "warn");
    assert_eq!(
        common::studio_projects(&http, &again.base, &studio_cookie).await,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_during_token_creation_loses_no_acknowledged_token() {
    let dir = tempfile::tempdir().unwrap();
    let mut tally = spawn(dir.path(), "warn");
    let admin = tally.admin.clone().unwrap();
    let base = tally.base.clone();

    let acked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (acked, count, next, admin, base) = (acked.clone(), count.clone(), next.clone(), admin.clone(), base.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                while next.fetch_add(1, Ordering::SeqCst) < 1000 {
                    let body = json!({"kind": "SYSTEM", "name": "crash", "grants": [{"api": "management", "action": "admin"}]});
                    let Ok(res) = http.post(format!("{base}/v1/tokens")).header("Authorization", &admin).json(&body).send().await else {
                        return; // the server is gone
                    };
                    if res.status() != StatusCode::CREATED {
                        return;
                    }
                    let Ok(v) = res.json::<Value>().await else { return };
                    acked.lock().unwrap().push(str_of(&v, "token"));
                    count.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    // Bounded: a server that stopped acknowledging fails the test, never hangs it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while count.load(Ordering::SeqCst) < 300 {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} tokens acknowledged",
            count.load(Ordering::SeqCst)
        );
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    tally.child.kill().unwrap(); // SIGKILL
    tally.child.wait().unwrap();
    for w in workers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 300 && acked.len() < 1000,
        "killed mid-way: {} acknowledged",
        acked.len()
    );

    // Restart on the same data dir: no new admin token, and every
    // acknowledged token authenticates.
    let mut again = spawn(dir.path(), "warn");
    assert!(
        again.admin.is_none(),
        "a data dir with tokens mints no new admin token"
    );
    let http = reqwest::Client::new();
    for token in &acked {
        let res = http
            .get(format!("{}/v1/audit?limit=1", again.base))
            .header("Authorization", bearer(token))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "token {} lost", &token[..16]);
    }
    again.child.kill().unwrap();
    again.child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_the_plugin_from_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("verifier.wasm");
    let status = Command::new(env!("CARGO_BIN_EXE_tally"))
        .arg("export-module")
        .arg(&plugin)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        std::fs::read(&plugin).unwrap(),
        tally::runtime::DEFAULT_MODULE
    );
    let tally = spawn_with(
        &dir.path().join("data"),
        "info",
        &["--plugin".as_ref(), plugin.as_os_str()],
    );
    let http = reqwest::Client::new();
    let verify = || {
        http.get(format!("{}/v1/verify", tally.base))
            .header("X-Tally-Action", "read")
            .send()
    };
    assert_eq!(verify().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // A broken file: the reload is refused and the old plugin keeps serving.
    std::fs::write(&plugin, b"not wasm").unwrap();
    Command::new("kill")
        .args(["-HUP", &tally.child.id().to_string()])
        .status()
        .unwrap();
    tally
        .wait_for_log("plugin reload failed; keeping the current plugin")
        .await;
    assert_eq!(verify().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    // A good file again: reloaded.
    std::fs::write(&plugin, tally::runtime::DEFAULT_MODULE).unwrap();
    Command::new("kill")
        .args(["-HUP", &tally.child.id().to_string()])
        .status()
        .unwrap();
    tally
        .wait_for_log("verifier plugin reloaded (SIGHUP)")
        .await;
    assert_eq!(verify().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    // The default public URL is the bound address, not the requested port 0.
    assert!(
        tally
            .log
            .lock()
            .unwrap()
            .contains(&format!("public_url={}", tally.base))
    );
}

/// Runs `tally serve --data <data>` expecting it to refuse to start (within
/// half a minute); its stderr.
fn refused_start(data: &std::path::Path) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(30) {
            let _ = child.kill();
            panic!("tally started on {}", data.display());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!status.success(), "it started: {stderr}");
    assert!(!stderr.contains("internal error"), "{stderr}");
    stderr
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_server_on_a_data_dir_in_use_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let first = spawn(dir.path(), "warn");
    let stderr = refused_start(dir.path());
    assert!(
        stderr.contains("in use by another tally server"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&dir.path().display().to_string()),
        "{stderr}"
    );
    drop(first); // killed: the operating system drops its lock
    let again = spawn(dir.path(), "warn");
    assert!(again.admin.is_none(), "same data, no new admin token");
}

#[tokio::test(flavor = "multi_thread")]
async fn startup_errors_name_the_path_and_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a dir").unwrap();
    let stderr = refused_start(&file);
    assert!(
        stderr.contains(&file.display().to_string()) && stderr.contains("is not a directory"),
        "{stderr}"
    );
    let below_file = file.join("data");
    let stderr = refused_start(&below_file);
    assert!(
        stderr.contains(&below_file.display().to_string()) && stderr.contains("Not a directory"),
        "{stderr}"
    );
    let corrupt = dir.path().join("corrupt");
    std::fs::create_dir(&corrupt).unwrap();
    std::fs::write(corrupt.join("tally.db"), vec![0x5a; 8192]).unwrap();
    let stderr = refused_start(&corrupt);
    assert!(
        stderr.contains(&corrupt.join("tally.db").display().to_string())
            && stderr.contains("not a database"),
        "{stderr}"
    );
    // A real database cut short.
    let truncated = dir.path().join("truncated");
    {
        let tally = spawn(&truncated, "warn");
        let admin = tally.admin.clone().unwrap();
        let http = reqwest::Client::new();
        for i in 0..50 {
            let (st, _) = post(
                &http,
                format!("{}/v1/projects", tally.base),
                &admin,
                json!({"id": format!("p{i}"), "name": "x".repeat(200)}),
            )
            .await;
            assert_eq!(st, StatusCode::CREATED);
        }
    }
    let db = truncated.join("tally.db");
    // Everything into the main file first, so that cutting it loses pages.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
    drop(conn);
    let len = std::fs::metadata(&db).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);
    let stderr = refused_start(&truncated);
    assert!(
        stderr.contains(&db.display().to_string())
            && (stderr.contains("malformed") || stderr.contains("damaged")),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_clients_cannot_starve_the_server() {
    // 1,100 connections that never finish their headers, against a server
    // allowed 1,024 descriptors: each is closed within the header timeout,
    // and /livez answers all the while.
    rlimit::increase_nofile_limit(4096).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(r#"ulimit -n 1024 && exec "$0" serve --data "$1" --listen 127.0.0.1:0 --header-timeout 2"#)
        .arg(env!("CARGO_BIN_EXE_tally"))
        .arg(dir.path());
    let tally = spawn_command(command, "error");
    let addr = tally.base.trim_start_matches("http://").to_owned();
    let mut slow = Vec::new();
    for _ in 0..1100 {
        use tokio::io::AsyncWriteExt;
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        stream
            .write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        slow.push(stream);
    }
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(1))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let mut answered = false;
    while started.elapsed() < std::time::Duration::from_secs(20) {
        if let Ok(res) = http.get(format!("{}/livez", tally.base)).send().await {
            assert_eq!(res.status(), StatusCode::NO_CONTENT);
            answered = true;
            break;
        }
    }
    assert!(answered, "/livez never answered under 1,100 slow clients");
    // The slow connections were closed by the server, not kept: a read
    // ends (end of stream, a reset, or hyper's last words) within the
    // header timeout rather than waiting forever.
    for stream in slow.iter_mut().take(50) {
        use tokio::io::AsyncReadExt;
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            stream.read_to_end(&mut rest),
        )
        .await
        .expect("a slow connection stayed open past the header timeout");
    }
    drop(slow);
    assert_eq!(
        http.get(format!("{}/livez", tally.base))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_body_is_408_and_an_idle_connection_is_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let tally = spawn_with(
        dir.path(),
        "warn",
        &[
            "--body-timeout",
            "1",
            "--idle-timeout",
            "2",
            "--header-timeout",
            "30",
        ]
        .map(std::ffi::OsStr::new),
    );
    let addr = tally.base.trim_start_matches("http://").to_owned();
    let admin = tally.admin.clone().unwrap();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /v1/projects HTTP/1.1\r\nHost: x\r\nAuthorization: {admin}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"id\":"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let mut buf = [0u8; 1024];
        while !String::from_utf8_lossy(&answer).contains("\"reason\"") {
            let n = stream.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("no answer to a stalled body");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"reason\":\"timeout\""), "{answer}");

    // A connection that sends nothing at all is closed after the idle
    // timeout (the header timeout is longer here).
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), idle.read(&mut buf))
        .await
        .expect("an idle connection stayed open");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(started.elapsed() >= std::time::Duration::from_millis(1500));
}
