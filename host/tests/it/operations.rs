//! Operations conventions of `tally serve`, as a process: `--config`
//! below the environment and the command line, JSON logs with one access
//! line per request and no credential in them, `/readyz`, and `/metrics`'
//! latency histograms, build info and process metrics.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::tally_process;

use serde_json::{Value, json};

/// `mgmtApi` of a project made on `base` with `admin`: it names the public URL.
async fn mgmt_api(base: &str, admin: &str) -> String {
    let http = reqwest::Client::new();
    let project: Value = http
        .post(format!("{base}/v1/projects"))
        .header("authorization", admin)
        .json(&json!({"id": "p", "name": "P"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    project["mgmtApi"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_config_file_is_below_the_environment_and_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tally.toml");
    std::fs::write(
        &file,
        "public-url = \"http://from-file.example\"\nthrottle_failures = 2\nno-decision-memo = true\ntrusted-proxy = [\"10.0.0.0/8\"]\n",
    )
    .unwrap();
    let config = file.to_str().unwrap();
    let data = |n: &str| dir.path().join(n).to_str().unwrap().to_string();

    let p = tally_process(&["--data", &data("a"), "--config", config], &[]);
    let api = mgmt_api(&p.base, p.admin.as_deref().unwrap()).await;
    assert!(api.starts_with("http://from-file.example/"), "{api}");

    let p = tally_process(
        &["--data", &data("b"), "--config", config],
        &[("TALLY_PUBLIC_URL", "http://from-env.example")],
    );
    let api = mgmt_api(&p.base, p.admin.as_deref().unwrap()).await;
    assert!(api.starts_with("http://from-env.example/"), "{api}");

    let p = tally_process(
        &[
            "--data",
            &data("c"),
            "--public-url",
            "http://from-cli.example",
        ],
        &[
            ("TALLY_PUBLIC_URL", "http://from-env.example"),
            ("TALLY_CONFIG", config),
        ],
    );
    let api = mgmt_api(&p.base, p.admin.as_deref().unwrap()).await;
    assert!(api.starts_with("http://from-cli.example/"), "{api}");

    std::fs::write(&file, "listen_on = \"x\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(["serve", "--data", &data("d"), "--config", config])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("listen_on is not an option of tally serve")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_carry_an_access_line_per_request_and_no_credential() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .arg("--data")
        .arg(dir.path().join("data"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut base = String::new();
    let mut admin = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(t) = line.strip_prefix("admin token: ") {
            admin = t.to_string();
        }
        if let Some(b) = line.strip_prefix("listening on ") {
            base = b.to_string();
            break;
        }
    }
    let http = reqwest::Client::new();
    let res = http
        .get(format!("{base}/v1/verify?secret=hunter2"))
        .header("authorization", &admin)
        .header("x-tally-action", "read")
        .send()
        .await
        .unwrap();
    // The admin token manages; it does not read content.
    assert_eq!(res.status(), 403);
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 204);
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "tally_http_request_duration_seconds_bucket{route=\"/v1/verify\",le=\"+Inf\"} 1"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("tally_build_info{version=\""));
    assert!(metrics.contains("process_resident_memory_bytes "));
    // Let the log writer flush, then stop the server.
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let _ = child.wait();
    let entries: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not a JSON line: {l}")))
        .collect();
    let access = entries
        .iter()
        .find(|e| e["target"] == "tally::access" && e["path"] == "/v1/verify")
        .unwrap_or_else(|| panic!("no access line: {stderr}"));
    assert_eq!(access["method"], "GET");
    assert_eq!(access["status"], 403);
    assert_eq!(access["reason"], "not_granted");
    assert!(access["latency_ms"].as_f64().is_some());
    let secret = admin.split('.').nth(1).unwrap();
    assert!(!stderr.contains(secret), "a credential reached the log");
    assert!(!stderr.contains("hunter2"), "a query value reached the log");
    assert!(
        !stderr.contains('\u{1b}'),
        "colour codes in a log that is not a terminal"
    );
}

/// host/API.md's options table lists every option of `tally serve --help`
/// with its environment variable, and nothing else.
#[test]
fn the_options_table_is_the_options() {
    let help = Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let api = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/API.md")).unwrap();
    let table: Vec<&str> = api
        .lines()
        .skip_while(|l| !l.starts_with("| option | environment |"))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .collect();
    let options: Vec<String> = help
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("--"))
        .map(|l| l.split([' ', ',']).next().unwrap().to_string())
        .filter(|o| o != "help")
        .collect();
    assert_eq!(table.len(), options.len(), "{table:#?}\n{options:#?}");
    for option in &options {
        let row = table
            .iter()
            .find(|r| r.starts_with(&format!("| `--{option}")))
            .unwrap_or_else(|| panic!("--{option} is not in the table"));
        let env = format!("TALLY_{}", option.replace('-', "_").to_uppercase());
        let env = if option == "trusted-proxy" {
            "TALLY_TRUSTED_PROXIES".to_string()
        } else {
            env
        };
        assert!(row.contains(&format!("`{env}`")), "{row} lacks {env}");
        assert!(
            help.contains(&format!("[env: {env}")),
            "--{option} has no {env}"
        );
    }
}

/// A self-signed certificate for 127.0.0.1 and localhost, written as PEM
/// to `cert` and `key`; its certificate, for a client to trust.
fn certificate(cert: &std::path::Path, key: &std::path::Path) -> reqwest::Certificate {
    let made =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    std::fs::write(cert, made.cert.pem()).unwrap();
    std::fs::write(key, made.signing_key.serialize_pem()).unwrap();
    reqwest::Certificate::from_pem(made.cert.pem().as_bytes()).unwrap()
}

fn trusting(root: &reqwest::Certificate) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(root.clone())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_serves_https_with_the_given_pair_and_reloads_it_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let first = certificate(&cert, &key);
    let p = tally_process(
        &[
            "--data",
            dir.path().join("data").to_str().unwrap(),
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[],
    );
    assert!(p.base.starts_with("https://127.0.0.1:"), "{}", p.base);
    let res = trusting(&first)
        .get(format!("{}/livez", p.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    // The public URL is https too.
    let project: Value = trusting(&first)
        .post(format!("{}/v1/projects", p.base))
        .header("authorization", p.admin.as_deref().unwrap())
        .json(&json!({"id": "p", "name": "P"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        project["mgmtApi"].as_str().unwrap().starts_with("https://"),
        "{project}"
    );
    // Plain HTTP on the TLS port gets no answer; a client that does not
    // trust the certificate refuses the server.
    let plain = p.base.replace("https://", "http://");
    assert!(reqwest::get(format!("{plain}/livez")).await.is_err());
    let stranger = reqwest::Client::builder().use_rustls_tls().build().unwrap();
    assert!(
        stranger
            .get(format!("{}/livez", p.base))
            .send()
            .await
            .is_err()
    );

    // A new pair in the same files, SIGHUP: new connections get it.
    let second = certificate(&cert, &key);
    let hup = Command::new("kill")
        .args(["-HUP", &p.pid().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let mut served = false;
    for _ in 0..50 {
        if trusting(&second)
            .get(format!("{}/livez", p.base))
            .send()
            .await
            .is_ok()
        {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "the reloaded certificate was never served");
    assert!(
        trusting(&first)
            .get(format!("{}/livez", p.base))
            .send()
            .await
            .is_err(),
        "the old certificate is still served"
    );
}
