//! Counters served at `/metrics` in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use verifier_core::Reason;

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
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
        out
    }
}

/// The `# HELP` and `# TYPE` lines of a counter family.
fn family(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} counter");
}
