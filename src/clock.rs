//! Timestamps as scimd stores and returns them: UTC RFC 3339 with milliseconds, fixed width, so
//! text order is time order on every backend.

use chrono::{DateTime, SecondsFormat, Utc};

pub fn format(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn now() -> String {
    format(Utc::now())
}
