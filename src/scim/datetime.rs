//! SCIM dateTime values (RFC 7643 §2.3.5, xsd:dateTime) read one way everywhere: in resource
//! bodies, in filter literals, and in the stored values the evaluator compares, so a value the
//! server accepted is a value its filters can find.

use chrono::{DateTime, Duration, Utc};

/// Parses an RFC 3339 date-time (`2011-05-13T04:42:34.5+02:00`), calendar-checked.
///
/// A missing offset is read as UTC, because xsd:dateTime makes the zone optional. `T` and `Z`
/// may be lower case and the separator a space (RFC 3339 §5.6 allows both). Fractions beyond
/// nanoseconds are truncated; a leap second (`:60`) counts as the first second of the next
/// minute, so instants order as clocks read them.
pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    let with_zone = DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_rfc3339(&format!("{s}Z")))
        .ok()?;
    let t = with_zone.with_timezone(&Utc);
    // chrono keeps a leap second as nanoseconds past 1e9 of second 59; without this it would
    // sort before 00:00:00 of the next minute but compare unequal to it.
    if t.timestamp_subsec_nanos() >= 1_000_000_000 {
        let whole = DateTime::from_timestamp(t.timestamp(), 0)?;
        let nanos = t.timestamp_subsec_nanos() - 1_000_000_000;
        return Some(whole + Duration::seconds(1) + Duration::nanoseconds(nanos.into()));
    }
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64, nanos: u32) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(secs, nanos)
    }

    #[test]
    fn offsets_fractions_and_leap_seconds_normalise_to_utc() {
        assert_eq!(parse("1970-01-01T00:00:00Z"), at(0, 0));
        assert_eq!(parse("1970-01-01T01:00:00+01:00"), at(0, 0));
        assert_eq!(parse("1970-01-01T00:00:00"), at(0, 0), "no offset is UTC");
        assert_eq!(parse("1970-01-01t00:00:00z"), at(0, 0));
        assert_eq!(parse("1970-01-01 00:00:00Z"), at(0, 0));
        assert_eq!(
            parse("1969-12-31T23:59:59.999999999999Z"),
            at(-1, 999_999_999)
        );
        assert_eq!(
            parse("2000-03-01T00:00:00Z").map(|t| t.timestamp()),
            Some(951_868_800)
        );
        assert_eq!(parse("2016-12-31T23:59:60Z"), parse("2017-01-01T00:00:00Z"));
        assert!(parse("2016-12-31T23:59:60.5Z") > parse("2017-01-01T00:00:00Z"));
        assert!(parse("2024-02-29T00:00:00Z").is_some());
        assert!(parse("2000-02-29T00:00:00Z").is_some());
        assert!(parse("0000-01-01T00:00:00Z").is_some());
        assert!(parse("9999-12-31T23:59:59Z").is_some());
    }

    #[test]
    fn malformed_and_impossible_dates_are_refused() {
        for bad in [
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2011-13-01T00:00:00Z",
            "2011-00-01T00:00:00Z",
            "2011-04-31T00:00:00Z",
            "2011-05-13T24:00:00Z",
            "2011-05-13T04:60:00Z",
            "2011-05-13T04:42:34.Z",
            "2011-05-13T04:42:34+2:00",
            "2011-05-13T04:42:34+24:00",
            "2011-05-13",
            "2011-5-13T04:42:34Z",
            "2011-05-13T04:42:34ZZ",
            "+2011-05-13T04:42:34Z",
            "2011-05-13T04:42:34.5é",
            "yesterday",
            "",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
