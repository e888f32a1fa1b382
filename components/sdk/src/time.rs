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
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_with_microseconds() {
        assert_eq!(format_timestamp(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(format_timestamp(1_795_926_201, 42), "2026-11-29T04:23:21.000042Z");
        assert_eq!(format_timestamp(951_782_400, 0), "2000-02-29T00:00:00.000000Z");
        assert_eq!(format_timestamp(-1, 0), "1969-12-31T23:59:59.000000Z");
    }
}
