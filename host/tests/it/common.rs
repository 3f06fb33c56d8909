//! A real `tally` server for tests: in-process on a loopback port, real
//! SQLite in a temp dir, a manual clock. Helpers speak HTTP with reqwest.

use std::path::Path;
use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tally::authority::AuthorityConfig;
use tally::clock::ManualClock;
use tally::http::{Options, Server, router};
use tally::runtime::{Limits, Verifier};
use tally::storage::Durability;
use tokio::sync::oneshot;

/// Start of the manual clock: 2027-01-15.
pub const T0: i64 = 1_800_000_000;

/// One compiled verifier for the whole test binary (compiling is the slow
/// part). Its deadline is long: these tests check decisions, and a deadline
/// is wall time, which a test thread on a busy two-core machine can lose
/// waiting for a core.
pub fn verifier() -> Arc<Verifier> {
    static VERIFIER: std::sync::OnceLock<Arc<Verifier>> = std::sync::OnceLock::new();
    let limits = Limits {
        deadline: std::time::Duration::from_secs(5),
        ..Limits::default()
    };
    Arc::clone(VERIFIER.get_or_init(|| Arc::new(Verifier::new(None, limits).unwrap())))
}

/// Test options: the embedded plugin, throttling at 5 failures a minute.
pub fn options(verifier: Arc<Verifier>) -> Options {
    let mut o = Options::new(verifier);
    o.throttle_failures = 5;
    o
}

pub struct TestServer {
    pub base: String,
    pub admin: String,
    pub clock: Arc<ManualClock>,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    /// Held for its drop: the server stops when the test's server does.
    _shutdown: oneshot::Sender<()>,
    _server: Server,
    _worker: Option<AbortOnDrop>,
}

pub async fn start() -> TestServer {
    start_with(|_| {}).await
}

pub async fn start_with(configure: impl FnOnce(&mut AuthorityConfig)) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    start_in(dir, configure).await
}

pub async fn start_in(
    dir: tempfile::TempDir,
    configure: impl FnOnce(&mut AuthorityConfig),
) -> TestServer {
    start_full(dir, configure, |_| {}).await
}

pub async fn start_with_options(set: impl FnOnce(&mut Options)) -> TestServer {
    start_full(tempfile::tempdir().unwrap(), |_| {}, set).await
}

pub async fn start_full(
    dir: tempfile::TempDir,
    configure: impl FnOnce(&mut AuthorityConfig),
    set: impl FnOnce(&mut Options),
) -> TestServer {
    let listener = tally::http::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = AuthorityConfig::new(format!("http://{addr}"));
    configure(&mut config);
    let clock = Arc::new(ManualClock::new(T0));
    let path = dir.path().to_owned();
    let clock_for_open = Arc::clone(&clock);
    let (authority, admin) = tokio::task::spawn_blocking(move || {
        tally::open(&path, Durability::Normal, clock_for_open, config)
    })
    .await
    .unwrap()
    .unwrap();
    let admin = admin
        .expect("a fresh data dir mints an admin token")
        .header();
    // With a webhook key, the node's delivery worker runs too: quick
    // retries, loopback receivers allowed.
    let worker = authority.webhook_key().map(|key| {
        let options = tally::webhooks::WorkerOptions {
            backoff_ms: 50,
            poll: std::time::Duration::from_millis(25),
            allow_private: true,
        };
        let worker = tally::webhooks::Worker::new(Arc::clone(&authority), key, options).unwrap();
        AbortOnDrop(tokio::spawn(worker.run()))
    });
    let (tx, rx) = oneshot::channel::<()>();
    let mut opts = options(verifier());
    set(&mut opts);
    let (router, _) = router(authority, opts);
    let server = Server::spawn(listener, router, async {
        let _ = rx.await;
    })
    .unwrap();
    TestServer {
        base: format!("http://{addr}"),
        admin,
        clock,
        dir,
        http: reqwest::Client::new(),
        _shutdown: tx,
        _server: server,
        _worker: worker,
    }
}

/// A task aborted when dropped.
pub struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl TestServer {
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(auth) = auth {
            req = req.header("Authorization", auth);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        contract::check(&method, path, status, &value);
        (status, value)
    }

    pub async fn admin(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let admin = self.admin.clone();
        self.call(method, path, Some(&admin), body).await
    }

    /// A project `p1` with environment `master`.
    pub async fn project(&self) {
        let (s, _) = self
            .admin(
                Method::POST,
                "/v1/projects",
                Some(json!({"id": "p1", "name": "Project"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, _) = self
            .admin(
                Method::POST,
                "/v1/projects/p1/environments",
                Some(json!({"id": "master", "name": "Master"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }

    /// Registers an app reading Post; returns (id, clientId, clientSecret).
    pub async fn app(&self) -> (String, String, String) {
        let (s, app) = self
            .admin(
                Method::POST,
                "/v1/apps",
                Some(json!({
                    "name": "Example app", "setupUrl": "http://127.0.0.1:3000/setup",
                    "origins": ["http://127.0.0.1:3000"],
                    "grants": [{"api": "content", "action": "read", "models": ["Post"]}]
                })),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{app}");
        (
            str_of(&app, "id"),
            str_of(&app, "clientId"),
            str_of(&app, "clientSecret"),
        )
    }

    /// Installs `app_id` into master; returns (installation id, setup code).
    pub async fn install(&self, app_id: &str) -> (String, String) {
        let (s, v) = self
            .admin(
                Method::POST,
                "/v1/environments/master/installations",
                Some(json!({"appId": app_id})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        (str_of(&v["installation"], "id"), str_of(&v, "setupCode"))
    }

    pub async fn exchange(&self, client_id: &str, secret: &str, code: &str) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            "/v1/app-exchange-token",
            None,
            Some(json!({"clientId": client_id, "clientSecret": secret, "exchangeCode": code})),
        )
        .await
    }
}

pub fn str_of(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key} in {v}"))
        .to_owned()
}

/// Asserts that `answer` (status and JSON body, as [`TestServer::call`] and
/// [`TestServer::admin`] return it) refuses with `status` and the error
/// body's `reason`; the body is shown when it does not.
#[track_caller]
pub fn assert_refused(answer: &(StatusCode, Value), status: StatusCode, reason: &str) {
    assert_eq!(
        (answer.0, answer.1["reason"].as_str()),
        (status, Some(reason)),
        "{}",
        answer.1
    );
}

pub fn bearer(token: &str) -> String {
    format!("AppToken {token}")
}

/// Every file under `dir`, as bytes.
pub fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out
}

/// Asserts that no file under `dir` holds `secret` as text or as its decoded
/// 32 bytes.
pub fn assert_not_stored(dir: &Path, secret: &str) {
    use base64::Engine as _;
    let secret_part = secret.rsplit('.').next().unwrap();
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(secret_part)
        .unwrap();
    for (name, bytes) in files(dir) {
        assert!(
            !contains(&bytes, secret_part.as_bytes()),
            "{name} holds a secret in the clear"
        );
        assert!(!contains(&bytes, &raw), "{name} holds a secret's raw bytes");
    }
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

impl TestServer {
    /// A PAT that may read content in master; returns `{ tokenId, token }`.
    pub async fn reader(&self, name: &str) -> Value {
        let (s, v) = self
            .admin(
                Method::POST,
                "/v1/tokens",
                Some(
                    json!({"kind": "PAT", "name": name, "environmentId": "master",
                            "grants": [{"api": "content", "action": "read"}]}),
                ),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v
    }
}

/// `GET {base}/v1/verify` for reading Post in master, as a proxy would ask.
pub async fn verify_read(http: &reqwest::Client, base: &str, token: Option<&str>) -> StatusCode {
    let mut req = http
        .get(format!("{base}/v1/verify"))
        .header("x-tally-environment", "master")
        .header("x-tally-action", "read")
        .header("x-tally-model", "Post");
    if let Some(token) = token {
        req = req.header("authorization", token);
    }
    req.send().await.unwrap().status()
}

/// Signs in to the studio at `base` with an admin token: the session's
/// cookie, as a `Cookie` header carries it (`tally_studio=…`).
pub async fn studio_sign_in(http: &reqwest::Client, base: &str, admin: &str) -> String {
    let signed_in = http
        .post(format!("{base}/studio/session"))
        .json(&json!({ "token": admin }))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::NO_CONTENT);
    signed_in
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_owned()
}

/// `GET {base}/studio/api/v1/projects` with the studio session `cookie`
/// (and `X-Tally-Studio: 1`), as the studio asks.
pub async fn studio_projects(http: &reqwest::Client, base: &str, cookie: &str) -> StatusCode {
    http.get(format!("{base}/studio/api/v1/projects"))
        .header("cookie", cookie)
        .header("x-tally-studio", "1")
        .send()
        .await
        .unwrap()
        .status()
}

/// A `tally serve` process on a free loopback port; killed when dropped.
pub struct TallyProcess {
    child: std::process::Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The admin token it printed, if it minted one.
    pub admin: Option<String>,
    /// Everything it printed before listening.
    pub head: String,
}

impl Drop for TallyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `tally serve --listen 127.0.0.1:0 <args>` with `RUST_LOG=warn` and
/// reads its stdout up to the `listening on` line (stderr is discarded, so
/// it can never fill a pipe).
impl TallyProcess {
    /// The process id (to signal it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

pub fn tally_process(args: &[&str], env: &[(&str, &str)]) -> TallyProcess {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut process = TallyProcess {
        child,
        base: String::new(),
        admin: None,
        head: String::new(),
    };
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        process.head.push_str(&line);
        process.head.push('\n');
        if let Some(token) = line.strip_prefix("admin token: ") {
            process.admin = Some(token.to_owned());
        }
        if let Some(addr) = line.strip_prefix("listening on ") {
            process.base = addr.to_owned();
            break;
        }
    }
    assert!(
        !process.base.is_empty(),
        "tally never listened: {}",
        process.head
    );
    // Keep draining stdout so the pipe never fills.
    std::thread::spawn(move || for _ in lines {});
    process
}

/// An answer read by [`raw_request`].
#[derive(Debug)]
pub struct RawAnswer {
    pub status: u16,
    /// Header names lowercased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawAnswer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// Sends one HTTP/1.1 request exactly as written — `target` is not
/// normalised the way URL parsers do (`..`, `%2e`, `;` stay as they are) —
/// with `Connection: close` (added to a `Connection` the caller gives), and
/// reads the answer to the end.
pub async fn raw_request(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> RawAnswer {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = addr.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\n");
    let mut connection = String::from("close");
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("connection") {
            connection = format!("{value}, close");
        } else {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str(&format!("Connection: {connection}\r\n"));
    if !body.is_empty() {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.unwrap();
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no answer head in {:?}", String::from_utf8_lossy(&bytes)));
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = bytes[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    RawAnswer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(&data[..end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
}

/// A fixture shared with the edge worker's tests, from `tests/fixtures/`.
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The OpenAPI document the server serves, compiled once per schema: every
/// answer [`TestServer::call`] receives is checked against it, so the
/// document is held to real traffic (and not only to Schemathesis's).
mod contract {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};

    use reqwest::{Method, StatusCode};
    use serde_json::{Value, json};

    fn document() -> &'static Value {
        static DOCUMENT: OnceLock<Value> = OnceLock::new();
        DOCUMENT.get_or_init(|| tally::http::openapi::document().unwrap())
    }

    /// The operation's path template for `path` (the studio's copy of the
    /// management API under `/studio/api` is the same operations): the
    /// matching template with the most literal segments.
    fn template(path: &str) -> Option<&'static str> {
        let path = path.split('?').next().unwrap_or(path);
        let path = path.strip_prefix("/studio/api").unwrap_or(path);
        let segments: Vec<&str> = path.split('/').collect();
        document()["paths"]
            .as_object()?
            .keys()
            .filter_map(|t| {
                let parts: Vec<&str> = t.split('/').collect();
                let matches = parts.len() == segments.len()
                    && parts
                        .iter()
                        .zip(&segments)
                        .all(|(p, s)| (p.starts_with('{') && !s.is_empty()) || p == s);
                matches.then(|| (parts.iter().filter(|p| !p.starts_with('{')).count(), t))
            })
            .max_by_key(|(literal, _)| *literal)
            .map(|(_, t)| t.as_str())
    }

    /// Validates `body` against `schema` (resolved in the document).
    fn validate(schema: &Value, body: &Value) -> Result<(), String> {
        static COMPILED: OnceLock<Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>> =
            OnceLock::new();
        let key = schema.to_string();
        let validator = {
            let mut cache = COMPILED.get_or_init(Default::default).lock().unwrap();
            std::sync::Arc::clone(cache.entry(key).or_insert_with(|| {
                let root = json!({
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "allOf": [schema],
                    "components": document()["components"],
                });
                std::sync::Arc::new(jsonschema::validator_for(&root).unwrap())
            }))
        };
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    /// Panics unless the answer `status`/`body` to `method path` is one the
    /// document describes: a documented status with a body of its schema;
    /// an error status the operation does not list (or a path it does not
    /// have) must still carry the error body every error has.
    pub fn check(method: &Method, path: &str, status: StatusCode, body: &Value) {
        let error_schema = json!({ "$ref": "#/components/schemas/Error" });
        let operation = template(path)
            .and_then(|t| document()["paths"][t].get(method.as_str().to_ascii_lowercase()));
        let documented = operation.and_then(|op| op["responses"].get(status.as_str()));
        let schema = match documented {
            Some(response) => match response.pointer("/content/application~1json/schema") {
                Some(schema) => schema.clone(),
                None => return,
            },
            None if status.as_u16() >= 400 => error_schema,
            None => panic!(
                "{method} {path} answered {status}, which the OpenAPI document does not list: {body}"
            ),
        };
        if let Err(e) = validate(&schema, body) {
            panic!(
                "{method} {path} answered {status} with a body the OpenAPI document refuses: {e}\n{body}"
            );
        }
    }

    #[test]
    fn a_documented_answer_passes() {
        check(&Method::GET, "/v1/projects", StatusCode::OK, &json!([]));
        check(
            &Method::POST,
            "/studio/api/v1/projects",
            StatusCode::CONFLICT,
            &json!({"message": "p1 already exists", "reason": "conflict"}),
        );
        check(
            &Method::GET,
            "/v1/nope",
            StatusCode::NOT_FOUND,
            &json!({"message": "route not found", "reason": "not_found"}),
        );
    }

    #[test]
    #[should_panic(expected = "refuses")]
    fn a_body_not_of_its_schema_fails() {
        check(
            &Method::GET,
            "/v1/projects",
            StatusCode::OK,
            &json!({"projects": []}),
        );
    }

    #[test]
    #[should_panic(expected = "refuses")]
    fn an_error_with_an_unknown_reason_fails() {
        check(
            &Method::GET,
            "/v1/tokens",
            StatusCode::UNAUTHORIZED,
            &json!({"message": "x", "reason": "nope"}),
        );
    }

    #[test]
    #[should_panic(expected = "does not list")]
    fn an_undocumented_success_fails() {
        check(
            &Method::GET,
            "/v1/projects",
            StatusCode::ACCEPTED,
            &json!([]),
        );
    }
}

/// A server-sent event stream (`Accept: text/event-stream`), read one event
/// at a time.
pub struct Events {
    res: reqwest::Response,
    buf: String,
}

impl Events {
    /// Opens `url` as an event stream with `authorization`, resuming after
    /// `last_event_id` when given; panics unless it answers 200 with
    /// `text/event-stream`.
    pub async fn open(
        http: &reqwest::Client,
        url: &str,
        authorization: &str,
        last_event_id: Option<&str>,
    ) -> Events {
        let mut req = http
            .get(url)
            .header("authorization", authorization)
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), reqwest::StatusCode::OK);
        let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(kind.starts_with("text/event-stream"), "{kind}");
        Events {
            res,
            buf: String::new(),
        }
    }

    /// The next event's fields (`event`, `id`, `data`, `retry`; comments
    /// left out), or `None` once the stream ends.
    pub async fn next(&mut self) -> Option<std::collections::HashMap<String, String>> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let fields: std::collections::HashMap<String, String> = block
                    .lines()
                    .filter(|l| !l.is_empty() && !l.starts_with(':'))
                    .map(|l| {
                        let (k, v) = l.split_once(':').unwrap_or((l, ""));
                        (k.to_owned(), v.strip_prefix(' ').unwrap_or(v).to_owned())
                    })
                    .collect();
                if fields.is_empty() {
                    continue;
                }
                return Some(fields);
            }
            let chunk = self.res.chunk().await.unwrap()?;
            self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next `change` event: its id and its data.
    pub async fn next_change(&mut self) -> Option<(i64, Value)> {
        loop {
            let fields = self.next().await?;
            if fields.get("event").map(String::as_str) == Some("change") {
                let id = fields["id"].parse().unwrap();
                return Some((id, serde_json::from_str(&fields["data"]).unwrap()));
            }
        }
    }
}
