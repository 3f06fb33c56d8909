//! What several benches share: their settings from the environment, the
//! resident memory of this process, a fresh PostgreSQL schema, and
//! `tally serve` processes on loopback (`snapshot`, `install-load`,
//! `revocation-lag`). Each bench uses some of it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The environment variable `name` read as a `T`, else `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// This process's resident memory, bytes.
pub fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// A fresh schema in the PostgreSQL database at `url`, named for `tag` and
/// this process; the URL to use it.
pub fn fresh_schema(url: &str, tag: &str) -> String {
    let name = format!("{tag}_{}", std::process::id());
    let statements = format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}");
    let admin = url.to_owned();
    // The sync client runs a runtime of its own: off any async context.
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        c.batch_execute(&statements).unwrap();
    })
    .join()
    .unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{name}")
}

/// Drops the schema [`fresh_schema`] made for `tag` in this process.
pub fn drop_schema(url: &str, tag: &str) {
    let statement = format!("DROP SCHEMA IF EXISTS {tag}_{} CASCADE", std::process::id());
    let admin = url.to_owned();
    // The sync client runs a runtime of its own: off any async context.
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        c.batch_execute(&statement).unwrap();
    })
    .join()
    .unwrap();
}

/// A running `tally serve`, stopped when dropped.
pub struct Node {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The admin token it printed (a header value), on a first start.
    pub admin: Option<String>,
}

impl Node {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its resident memory, MiB.
    pub fn rss_mib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
            >> 10
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `tally serve --listen 127.0.0.1:0 <args>` and reads its stdout up
/// to the `listening on` line (stderr is discarded, so it can never fill a
/// pipe).
pub fn serve(args: &[&str], env: &[(&str, &str)]) -> Node {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tally serve");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut admin = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(token) = line.strip_prefix("admin token: ") {
            admin = Some(token.to_owned());
        }
        if let Some(base) = line.strip_prefix("listening on ") {
            let base = base.to_owned();
            // Keep draining stdout so the pipe never fills.
            std::thread::spawn(move || for _ in lines {});
            return Node { child, base, admin };
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("tally serve {args:?} never listened");
}

/// A project `p1` with an environment `master`, made on `base` with `admin`.
pub async fn project(http: &reqwest::Client, base: &str, admin: &str) {
    for (path, body) in [
        ("/v1/projects", serde_json::json!({"id": "p1", "name": "P"})),
        (
            "/v1/projects/p1/environments",
            serde_json::json!({"id": "master", "name": "Master"}),
        ),
    ] {
        let res = http
            .post(format!("{base}{path}"))
            .header("authorization", admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 201, "{path}");
    }
}

/// The `p`-th of `sorted` (0 to 1).
pub fn percentile(sorted: &[std::time::Duration], p: f64) -> std::time::Duration {
    if sorted.is_empty() {
        return std::time::Duration::ZERO;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}
