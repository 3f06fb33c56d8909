//! Counters served at `/metrics` in the Prometheus text format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    responses: [AtomicU64; 5],
    exchanges_ok: AtomicU64,
    exchanges_failed: AtomicU64,
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

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP tally_http_responses_total HTTP responses by status class.\n");
        out.push_str("# TYPE tally_http_responses_total counter\n");
        for (i, counter) in self.responses.iter().enumerate() {
            let _ = writeln!(
                out,
                "tally_http_responses_total{{class=\"{}xx\"}} {}",
                i + 1,
                counter.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP tally_exchanges_total Setup-code exchanges by outcome.\n");
        out.push_str("# TYPE tally_exchanges_total counter\n");
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
        out
    }
}
