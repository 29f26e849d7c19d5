//! The two clocks of CloudTrail: an event's `eventTime`, and the delivery time in a log file's
//! name (which orders files, so the eventID window can slide).

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

/// CloudTrail's `2025-06-01T12:34:56Z`, with a fast path for that exact shape and RFC 3339
/// (fractions, offsets) otherwise.
pub fn parse_event_time(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    if b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z'
    {
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let mut v = 0u32;
            for &c in &b[r] {
                if !c.is_ascii_digit() {
                    return None;
                }
                v = v * 10 + u32::from(c - b'0');
            }
            Some(v)
        };
        let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
        let t = date.and_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?)?;
        return Some(Utc.from_utc_datetime(&t));
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Delivery time in a CloudTrail file name (`…_20250601T1205Z_…`), as Unix seconds.
pub fn delivery_time(name: &str) -> Option<i64> {
    name.split(['_', '.']).find_map(|part| {
        let b = part.as_bytes();
        if b.len() == 14 && b[8] == b'T' && b[13] == b'Z' {
            let digits = |r: std::ops::Range<usize>| -> Option<u32> { part.get(r)?.parse().ok() };
            let date = NaiveDate::from_ymd_opt(digits(0..4)? as i32, digits(4..6)?, digits(6..8)?)?;
            let t = date.and_hms_opt(digits(9..11)?, digits(11..13)?, 0)?;
            Some(Utc.from_utc_datetime(&t).timestamp())
        } else {
            None
        }
    })
}
