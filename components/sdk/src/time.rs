//! Timestamps as Kubernetes and CloudNativePG write them.

/// The current UTC time as RFC 3339 with microseconds
/// (`2026-11-29T04:23:21.123456Z`), the layout CloudNativePG uses for
/// `targetPrimaryTimestamp`. Read from the host's wall clock (WASI).
pub fn timestamp_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format_timestamp(i64::try_from(now.as_secs()).unwrap_or(i64::MAX), now.subsec_micros())
}

/// `seconds` since the Unix epoch plus `micros`, as RFC 3339 UTC with
/// microseconds.
pub fn format_timestamp(seconds: i64, micros: u32) -> String {
    let c = Civil::from_unix(seconds);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// Unix seconds now (the host's wall clock).
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// A UTC instant broken into calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// 0 = Sunday.
    pub weekday: u32,
}

impl Civil {
    pub fn from_unix(seconds: i64) -> Civil {
        let days = seconds.div_euclid(86_400);
        let secs = seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: (secs / 3600) as u32,
            minute: (secs % 3600 / 60) as u32,
            second: (secs % 60) as u32,
            // 1970-01-01 was a Thursday.
            weekday: (days + 4).rem_euclid(7) as u32,
        }
    }
}

/// (year, month, day) of a day count since 1970-01-01 (proleptic Gregorian).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let month = i64::from(month);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Unix seconds as RFC 3339 UTC without fractions (`2026-12-06T02:00:00Z`).
pub fn format_seconds(seconds: i64) -> String {
    let c = Civil::from_unix(seconds);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// Parses an RFC 3339 timestamp (`2026-12-06T14:05:00Z`,
/// `2026-12-06T14:05:00.5+01:00`; `T` or a space between date and time)
/// into Unix seconds and nanoseconds. `None` when it is not one.
pub fn parse_rfc3339(text: &str) -> Option<(i64, u32)> {
    let (date, rest) = parse_date_time(text)?;
    let (nanos, zone) = fraction(rest)?;
    let offset = zone_offset(zone)?;
    Some((date - offset, nanos))
}

/// `YYYY-MM-DD[T ]hh:mm:ss` at the start of `text`: local seconds and the rest.
fn parse_date_time(text: &str) -> Option<(i64, &str)> {
    let b = text.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let part = text.get(from..to)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)? as u32, num(8, 10)? as u32);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    Some((
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second,
        &text[19..],
    ))
}

/// `.fraction` (optional) then the rest.
fn fraction(rest: &str) -> Option<(u32, &str)> {
    let Some(digits) = rest.strip_prefix('.') else {
        return Some((0, rest));
    };
    let end = digits.find(|c: char| !c.is_ascii_digit()).unwrap_or(digits.len());
    if end == 0 || end > 9 {
        return None;
    }
    let nanos: u32 = format!("{:0<9}", &digits[..end]).parse().ok()?;
    Some((nanos, &digits[end..]))
}

/// `Z` or `±hh:mm` as seconds east of UTC.
fn zone_offset(zone: &str) -> Option<i64> {
    if zone == "Z" || zone == "z" {
        return Some(0);
    }
    let b = zone.as_bytes();
    if b.len() != 6 || b[3] != b':' || !matches!(b[0], b'+' | b'-') {
        return None;
    }
    let hours: i64 = zone.get(1..3)?.parse().ok()?;
    let minutes: i64 = zone.get(4..6)?.parse().ok()?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    let offset = hours * 3600 + minutes * 60;
    Some(if b[0] == b'-' { -offset } else { offset })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trips_and_weekdays() {
        for days in [-800_000, -1, 0, 59, 10_957, 20_428, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        // 2026-12-06 is a Sunday; 1970-01-01 a Thursday.
        assert_eq!(
            Civil::from_unix(parse_rfc3339("2026-12-06T12:00:00Z").unwrap().0).weekday,
            0
        );
        assert_eq!(Civil::from_unix(0).weekday, 4);
    }

    #[test]
    fn rfc3339_parsing() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(
            parse_rfc3339("2026-11-29T04:23:21.000042Z"),
            Some((1_795_926_201, 42_000))
        );
        assert_eq!(parse_rfc3339("2026-11-29 05:23:21+01:00"), Some((1_795_926_201, 0)));
        assert_eq!(
            parse_rfc3339("2026-11-29T00:23:21.5-04:00"),
            Some((1_795_926_201, 500_000_000))
        );
        for bad in [
            "2026-11-29",
            "2026-02-30T00:00:00Z",
            "2026-11-29T24:00:00Z",
            "2026-11-29T04:23:21",
            "2026-11-29T04:23:21+0100",
            "2026-11-29T04:23:21.Z",
            "yesterday 14:05",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        assert_eq!(format_seconds(1_795_926_201), "2026-11-29T04:23:21Z");
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_microseconds() {
        assert_eq!(format_timestamp(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(format_timestamp(1_795_926_201, 42), "2026-11-29T04:23:21.000042Z");
        assert_eq!(format_timestamp(951_782_400, 0), "2000-02-29T00:00:00.000000Z");
        assert_eq!(format_timestamp(-1, 0), "1969-12-31T23:59:59.000000Z");
    }
}
