//! Counting what a run did: a latency histogram (microseconds, hdrhistogram), answers by status,
//! and errors without an answer; merged across tasks at the end.

use hdrhistogram::Histogram;
use std::{collections::BTreeMap, time::Duration};

pub fn histogram() -> Histogram<u64> {
    // 1 µs to 10 min, three significant figures.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

pub fn record(hist: &mut Histogram<u64>, elapsed: Duration) {
    let micros = (elapsed.as_micros() as u64).clamp(1, 600_000_000);
    hist.record(micros).expect("value within the histogram's bounds");
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn of(hist: &Histogram<u64>) -> Latency {
        let ms = |v: u64| (v as f64 / 1000.0 * 1000.0).round() / 1000.0;
        if hist.is_empty() {
            return Latency { p50_ms: 0.0, p90_ms: 0.0, p99_ms: 0.0, max_ms: 0.0 };
        }
        Latency {
            p50_ms: ms(hist.value_at_quantile(0.50)),
            p90_ms: ms(hist.value_at_quantile(0.90)),
            p99_ms: ms(hist.value_at_quantile(0.99)),
            max_ms: ms(hist.max()),
        }
    }
}

/// What one load task saw; [`Stats::merge`] adds them up.
#[derive(Debug, Clone)]
pub struct Stats {
    pub latency: Histogram<u64>,
    /// Requests answered, by HTTP status.
    pub status: BTreeMap<u16, u64>,
    /// Batch items by their own status (batch mode only).
    pub item_status: BTreeMap<u16, u64>,
    /// Requests without an answer (connection refused or reset, timeout), by kind.
    pub transport_errors: BTreeMap<String, u64>,
    /// Registrations stored by an answered request (201 or 200 replay).
    pub registrations: u64,
    /// TCP connections opened.
    pub connections: u64,
    /// Registration flags seen (only with `--check`).
    pub flags: BTreeMap<String, u64>,
    /// Answers whose body did not match the request (only with `--check`).
    pub check_failures: u64,
    pub first_check_failure: Option<String>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            latency: histogram(),
            status: BTreeMap::new(),
            item_status: BTreeMap::new(),
            transport_errors: BTreeMap::new(),
            registrations: 0,
            connections: 0,
            flags: BTreeMap::new(),
            check_failures: 0,
            first_check_failure: None,
        }
    }
}

impl Stats {
    pub fn merge(&mut self, other: &Stats) {
        self.latency.add(&other.latency).expect("histograms with the same bounds");
        for (k, v) in &other.status {
            *self.status.entry(*k).or_default() += v;
        }
        for (k, v) in &other.item_status {
            *self.item_status.entry(*k).or_default() += v;
        }
        for (k, v) in &other.transport_errors {
            *self.transport_errors.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.flags {
            *self.flags.entry(k.clone()).or_default() += v;
        }
        self.registrations += other.registrations;
        self.connections += other.connections;
        self.check_failures += other.check_failures;
        if self.first_check_failure.is_none() {
            self.first_check_failure.clone_from(&other.first_check_failure);
        }
    }

    pub fn requests(&self) -> u64 {
        self.status.values().sum::<u64>() + self.transport_errors.values().sum::<u64>()
    }

    /// Answers other than 200 and 201, and requests without an answer.
    pub fn errors(&self) -> u64 {
        self.status.iter().filter(|(s, _)| !matches!(s, 200 | 201)).map(|(_, n)| n).sum::<u64>()
            + self.transport_errors.values().sum::<u64>()
            + self.item_status.iter().filter(|(s, _)| !matches!(s, 200 | 201)).map(|(_, n)| n).sum::<u64>()
    }
}

/// Statuses of a batch answer `{"results":[{"key","status":201,"body":{…}}, …]}`, read without
/// parsing the JSON: every `"status"` member at object depth 2 (the items), skipping strings.
pub fn batch_statuses(body: &[u8], mut each: impl FnMut(u16)) -> usize {
    let mut depth = 0usize;
    let mut i = 0;
    let mut found = 0;
    while i < body.len() {
        match body[i] {
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < body.len() && body[i] != b'"' {
                    if body[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if depth == 2 && &body[start..i.min(body.len())] == b"status" {
                    let mut j = i + 1;
                    while j < body.len() && matches!(body[j], b' ' | b':') {
                        j += 1;
                    }
                    let digits = body[j..].iter().take_while(|b| b.is_ascii_digit()).count();
                    if let Some(status) = std::str::from_utf8(&body[j..j + digits]).ok().and_then(|s| s.parse().ok()) {
                        each(status);
                        found += 1;
                    }
                }
            }
            b'{' => depth += 1,
            b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_statuses_are_read_at_item_depth_only() {
        let body = br#"{"results":[{"key":"a","status":201,"body":{"status":999,"x":"\"status\":5"}},
            {"key":"b","status": 200,"body":{}},{"key":"c","status":422,"body":{"code":"invalid"}}]}"#;
        let mut seen = Vec::new();
        assert_eq!(batch_statuses(body, |s| seen.push(s)), 3);
        assert_eq!(seen, vec![201, 200, 422]);
    }

    #[test]
    fn stats_merge_and_percentiles() {
        let mut a = Stats::default();
        let mut b = Stats::default();
        for ms in 1..=100 {
            record(&mut a.latency, Duration::from_millis(ms));
        }
        record(&mut b.latency, Duration::from_secs(2));
        *a.status.entry(201).or_default() += 100;
        *b.status.entry(503).or_default() += 1;
        *b.transport_errors.entry("connect".into()).or_default() += 2;
        a.merge(&b);
        assert_eq!(a.requests(), 103);
        assert_eq!(a.errors(), 3);
        let l = Latency::of(&a.latency);
        assert!((l.p50_ms - 51.0).abs() < 0.5, "{l:?}");
        assert!((l.max_ms - 2000.0).abs() < 2.0, "{l:?}");
    }
}
