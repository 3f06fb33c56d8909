//! Counters served at `/metrics` in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use verifier_core::Reason;

/// The routes latency is kept by: a fixed set, so a scan of made-up paths
/// cannot grow the metrics.
pub const ROUTES: [&str; 9] = [
    "/v1/verify",
    "/v1/content",
    "/v2",
    "/v1/management",
    "/v1/app-exchange-token",
    "/v1/records",
    "/v1",
    "/studio",
    "other",
];

/// Upper bounds of the latency histogram's buckets, seconds.
pub const BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

/// The route of `path`, among [`ROUTES`].
pub fn route_of(path: &str) -> usize {
    let prefixed = |p: &str| path == p || path.strip_prefix(p).is_some_and(|r| r.starts_with('/'));
    ROUTES
        .iter()
        .position(|r| *r != "other" && prefixed(r))
        .unwrap_or(ROUTES.len() - 1)
}

/// One route's latency histogram: counts per bucket (not cumulative),
/// the overflow, and the sum in microseconds.
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    latency: [Histogram; ROUTES.len()],
    responses: [AtomicU64; 5],
    exchanges_ok: AtomicU64,
    exchanges_failed: AtomicU64,
    decisions: [AtomicU64; Reason::ALL.len()],
    plugin_failures: Mutex<BTreeMap<&'static str, u64>>,
    memo_hits: AtomicU64,
}

impl Metrics {
    /// Counts a response by status class (1xx..5xx).
    pub fn response(&self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        if let Some(counter) = self.responses.get(class) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records a response's latency on route `route` (from [`route_of`]).
    pub fn latency(&self, route: usize, elapsed: std::time::Duration) {
        let Some(h) = self.latency.get(route) else {
            return;
        };
        let seconds = elapsed.as_secs_f64();
        let at = BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(BUCKETS.len());
        if let Some(bucket) = h.buckets.get(at) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        h.sum_micros.fetch_add(
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Counts a setup-code exchange.
    pub fn exchange(&self, ok: bool) {
        let counter = if ok {
            &self.exchanges_ok
        } else {
            &self.exchanges_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a verify decision.
    pub fn decision(&self, reason: Reason) {
        if let Some(i) = Reason::ALL.iter().position(|r| *r == reason) {
            self.decisions[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a check answered from the decision memo (also counted, by
    /// reason, as a decision).
    pub fn memo_hit(&self) {
        self.memo_hits.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a plugin failure (each one a denial).
    pub fn plugin_failure(&self, kind: &'static str) {
        *self
            .plugin_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(kind)
            .or_insert(0) += 1;
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        family(
            &mut out,
            "tally_http_responses_total",
            "HTTP responses by status class.",
        );
        for (i, counter) in self.responses.iter().enumerate() {
            let _ = writeln!(
                out,
                "tally_http_responses_total{{class=\"{}xx\"}} {}",
                i + 1,
                counter.load(Ordering::Relaxed)
            );
        }
        family(
            &mut out,
            "tally_exchanges_total",
            "Setup-code exchanges by outcome.",
        );
        let _ = writeln!(
            out,
            "tally_exchanges_total{{outcome=\"ok\"}} {}",
            self.exchanges_ok.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "tally_exchanges_total{{outcome=\"failed\"}} {}",
            self.exchanges_failed.load(Ordering::Relaxed)
        );
        family(
            &mut out,
            "tally_verify_decisions_total",
            "Verify decisions by reason.",
        );
        for (reason, counter) in Reason::ALL.iter().zip(&self.decisions) {
            let _ = writeln!(
                out,
                "tally_verify_decisions_total{{reason=\"{reason}\"}} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        family(
            &mut out,
            "tally_verify_memo_hits_total",
            "Verify decisions repeated from the memo of allowed decisions, without a plugin call.",
        );
        let _ = writeln!(
            out,
            "tally_verify_memo_hits_total {}",
            self.memo_hits.load(Ordering::Relaxed)
        );
        family(
            &mut out,
            "tally_plugin_failures_total",
            "Verifier plugin failures (each one a denial) by kind.",
        );
        for (kind, n) in self
            .plugin_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(out, "tally_plugin_failures_total{{kind=\"{kind}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP tally_http_request_duration_seconds Time from a request's head to its answer, by route.\n\
             # TYPE tally_http_request_duration_seconds histogram"
        );
        for (route, h) in ROUTES.iter().zip(&self.latency) {
            let mut cumulative = 0;
            for (bound, bucket) in BUCKETS.iter().zip(&h.buckets) {
                cumulative += bucket.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "tally_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            cumulative += h.buckets.last().map_or(0, |b| b.load(Ordering::Relaxed));
            let _ = writeln!(
                out,
                "tally_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {cumulative}"
            );
            let sum = h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                out,
                "tally_http_request_duration_seconds_sum{{route=\"{route}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "tally_http_request_duration_seconds_count{{route=\"{route}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP tally_build_info The build: version of the tally package.\n\
             # TYPE tally_build_info gauge\n\
             tally_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        process_metrics(&mut out);
        out
    }
}

/// The process's own metrics, Prometheus' standard names, from `/proc`
/// (Linux; elsewhere none): resident memory, open file descriptors, CPU
/// seconds, start time.
fn process_metrics(out: &mut String) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // Fields after the command (which may hold spaces), from field 3 on.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    // The kernel's clock tick is 100 Hz on every Linux platform tally targets.
    let ticks = 100.0;
    if let (Some(utime), Some(stime)) = (field(14), field(15)) {
        let _ = writeln!(
            out,
            "# HELP process_cpu_seconds_total User and system CPU time.\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total {}",
            (utime + stime) as f64 / ticks
        );
    }
    if let Some(rss_pages) = field(24) {
        let _ = writeln!(
            out,
            "# HELP process_resident_memory_bytes Resident memory.\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {}",
            rss_pages * 4096
        );
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        let _ = writeln!(
            out,
            "# HELP process_open_fds Open file descriptors.\n# TYPE process_open_fds gauge\nprocess_open_fds {}",
            fds.count()
        );
    }
    let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<u64>().ok())
    });
    if let (Some(boot), Some(start)) = (boot, field(22)) {
        let _ = writeln!(
            out,
            "# HELP process_start_time_seconds Start time, unix seconds.\n# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds {}",
            boot as f64 + start as f64 / ticks
        );
    }
}

/// The `# HELP` and `# TYPE` lines of a counter family.
fn family(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} counter");
}
