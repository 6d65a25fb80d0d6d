//! Failed authentications counted in fixed windows per key (a source address, a client id),
//! so a guesser is slowed to a handful of tries a minute. Counts live in this process: every
//! replica enforces its own share, as the request rate limits do. A limit of 0 counts nothing
//! and blocks nothing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries kept before expired windows are swept, so a flood of addresses stays bounded.
const MAX_TRACKED: usize = 10_000;

pub struct FailureLimit {
    max: u32,
    window: Duration,
    seen: Mutex<HashMap<String, (Instant, u32)>>,
}

impl FailureLimit {
    pub fn new(max: u32, window: Duration) -> Self {
        Self {
            max,
            window,
            seen: Mutex::default(),
        }
    }

    /// How long the key must wait, when it has used up its failures.
    pub fn blocked(&self, key: &str, now: Instant) -> Option<Duration> {
        if self.max == 0 {
            return None;
        }
        let seen = self.seen.lock().ok()?;
        let (start, n) = seen.get(key)?;
        let end = *start + self.window;
        (*n >= self.max && end > now).then(|| end - now)
    }

    pub fn fail(&self, key: &str, now: Instant) {
        if self.max == 0 {
            return;
        }
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        if seen.len() >= MAX_TRACKED {
            let window = self.window;
            seen.retain(|_, (start, _)| *start + window > now);
        }
        let entry = seen.entry(key.to_owned()).or_insert((now, 0));
        if entry.0 + self.window <= now {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_block_a_key_for_the_rest_of_its_window_only() {
        let window = Duration::from_secs(60);
        let limit = FailureLimit::new(10, window);
        let t0 = Instant::now();
        for _ in 0..9 {
            limit.fail("a", t0);
        }
        assert_eq!(limit.blocked("a", t0), None);
        limit.fail("a", t0);
        assert_eq!(limit.blocked("a", t0), Some(window));
        assert_eq!(limit.blocked("b", t0), None, "other keys are not affected");
        assert_eq!(limit.blocked("a", t0 + window), None);
        limit.fail("a", t0 + window);
        assert_eq!(limit.blocked("a", t0 + window), None, "a new window");
    }
}
