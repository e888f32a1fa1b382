//! Cron schedules as CloudNativePG reads `ScheduledBackup.spec.schedule`:
//! the grammar and the "next run" rule of `github.com/robfig/cron` v1.2.0's
//! `cron.Parse` (the operator's webhook and controller both call it):
//!
//! - six fields `second minute hour day-of-month month day-of-week`; the
//!   day of week may be left out (five fields then mean *seconds* first, not
//!   the classic crontab layout — [`Schedule::five_fields`] flags it; the
//!   operator's webhook only warns);
//! - each field: `*`, `?`, `N`, `N-M`, any of those with `/step`, `N/step`
//!   meaning `N-max/step`, comma lists; months `JAN`-`DEC` and days of week
//!   `SUN`-`SAT` by name (any case); day of week 0-6, Sunday 0;
//! - descriptors `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily`
//!   (`@midnight`), `@hourly` and `@every <Go duration>`;
//! - day of month and day of week: when either starts with `*`/`?` (also
//!   `*/2`) both must match, otherwise either may (the crontab rule);
//! - times are computed in UTC (the operator's container clock).
//!
//! Written from the library's documented behaviour; the unit tests pin the
//! cases that differ from other cron dialects.

use std::fmt;

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    Fields(Fields),
    /// `@every <duration>`: a fixed delay in whole seconds (at least 1).
    Every(u64),
}

/// Bit sets of the allowed values of each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    pub second: u64,
    pub minute: u64,
    pub hour: u64,
    pub day_of_month: u64,
    pub month: u64,
    pub day_of_week: u64,
    /// Day of month or day of week was `*`/`?` (both must then match).
    dom_star: bool,
    dow_star: bool,
    /// Written with five fields (no day of week).
    five: bool,
}

/// Why a schedule is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronError(pub String);

impl fmt::Display for CronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

struct Bounds {
    what: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const SECOND: Bounds = Bounds {
    what: "second",
    min: 0,
    max: 59,
    names: &[],
};
const MINUTE: Bounds = Bounds {
    what: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Bounds = Bounds {
    what: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DAY_OF_MONTH: Bounds = Bounds {
    what: "day of month",
    min: 1,
    max: 31,
    names: &[],
};
/// Month names, index 0 is January (value 1).
const MONTH: Bounds = Bounds {
    what: "month",
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
/// Day names, index 0 is Sunday (value 0).
const DAY_OF_WEEK: Bounds = Bounds {
    what: "day of week",
    min: 0,
    max: 6,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

fn err(message: String) -> CronError {
    CronError(message)
}

impl Bounds {
    fn value(&self, text: &str) -> Result<u32, CronError> {
        let lower = text.to_ascii_lowercase();
        if let Some(index) = self.names.iter().position(|n| *n == lower) {
            return Ok(index as u32 + self.min);
        }
        text.parse::<u32>()
            .map_err(|_| err(format!("`{text}` is not a number or a name in the {} field", self.what)))
    }

    /// One comma-separated part: the bits and whether it was `*`/`?`.
    fn part(&self, expr: &str) -> Result<(u64, bool), CronError> {
        let (range, step) = match expr.split_once('/') {
            Some((range, step)) => {
                if step.contains('/') {
                    return Err(err(format!("too many `/` in `{expr}` ({} field)", self.what)));
                }
                let step: u32 = step.parse().map_err(|_| {
                    err(format!(
                        "step `{step}` of `{expr}` is not a number ({} field)",
                        self.what
                    ))
                })?;
                (range, Some(step))
            }
            None => (expr, None),
        };
        let star = range == "*" || range == "?";
        let (start, mut end) = if star {
            (self.min, self.max)
        } else {
            match range.split_once('-') {
                Some((low, high)) => {
                    if high.contains('-') {
                        return Err(err(format!("too many `-` in `{expr}` ({} field)", self.what)));
                    }
                    (self.value(low)?, self.value(high)?)
                }
                None => {
                    let value = self.value(range)?;
                    (value, value)
                }
            }
        };
        // `N/step` runs from N to the end of the field.
        if step.is_some() && !star && !range.contains('-') {
            end = self.max;
        }
        let step = step.unwrap_or(1);
        if start < self.min {
            return Err(err(format!(
                "{} {start} is below the minimum {} in `{expr}`",
                self.what, self.min
            )));
        }
        if end > self.max {
            return Err(err(format!(
                "{} {end} is above the maximum {} in `{expr}`",
                self.what, self.max
            )));
        }
        if start > end {
            return Err(err(format!(
                "range `{expr}` starts after it ends ({} field)",
                self.what
            )));
        }
        if step == 0 {
            return Err(err(format!("step of `{expr}` must be positive ({} field)", self.what)));
        }
        let mut bits = 0u64;
        let mut value = start;
        while value <= end {
            bits |= 1 << value;
            value += step;
        }
        // v1.2.0 keeps the star mark with a step: `*/2` in the day of month
        // still means "both day fields must match".
        Ok((bits, star))
    }

    fn field(&self, text: &str) -> Result<(u64, bool), CronError> {
        let mut bits = 0;
        let mut star = false;
        for part in text.split(',') {
            let (b, s) = self.part(part)?;
            bits |= b;
            star |= s;
        }
        Ok((bits, star))
    }
}

fn all(bounds: &Bounds) -> u64 {
    (bounds.min..=bounds.max).fold(0, |bits, v| bits | 1 << v)
}

fn fixed(second: u32, minute: u32, hour: u32, dom: Option<u32>, month: Option<u32>, dow: Option<u32>) -> Fields {
    Fields {
        second: 1 << second,
        minute: 1 << minute,
        hour: 1 << hour,
        day_of_month: dom.map_or(all(&DAY_OF_MONTH), |d| 1 << d),
        month: month.map_or(all(&MONTH), |m| 1 << m),
        day_of_week: dow.map_or(all(&DAY_OF_WEEK), |d| 1 << d),
        dom_star: dom.is_none(),
        dow_star: dow.is_none(),
        five: false,
    }
}

/// Parses a schedule as the operator does.
pub fn parse(spec: &str) -> Result<Schedule, CronError> {
    if spec.is_empty() {
        return Err(err("the schedule is empty".into()));
    }
    if let Some(descriptor) = spec.strip_prefix('@') {
        return descriptor_schedule(descriptor, spec);
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if !(5..=6).contains(&fields.len()) {
        return Err(err(format!(
            "expected 5 or 6 fields (second minute hour day-of-month month [day-of-week]), found {}: `{spec}`",
            fields.len()
        )));
    }
    let (second, _) = SECOND.field(fields[0])?;
    let (minute, _) = MINUTE.field(fields[1])?;
    let (hour, _) = HOUR.field(fields[2])?;
    let (day_of_month, dom_star) = DAY_OF_MONTH.field(fields[3])?;
    let (month, _) = MONTH.field(fields[4])?;
    let (day_of_week, dow_star) = match fields.get(5) {
        Some(text) => DAY_OF_WEEK.field(text)?,
        None => (all(&DAY_OF_WEEK), true),
    };
    Ok(Schedule::Fields(Fields {
        second,
        minute,
        hour,
        day_of_month,
        month,
        day_of_week,
        dom_star,
        dow_star,
        five: fields.len() == 5,
    }))
}

fn descriptor_schedule(descriptor: &str, spec: &str) -> Result<Schedule, CronError> {
    let fields = match descriptor {
        "yearly" | "annually" => fixed(0, 0, 0, Some(1), Some(1), None),
        "monthly" => fixed(0, 0, 0, Some(1), None, None),
        "weekly" => fixed(0, 0, 0, None, None, Some(0)),
        "daily" | "midnight" => fixed(0, 0, 0, None, None, None),
        "hourly" => Fields {
            hour: all(&HOUR),
            ..fixed(0, 0, 0, None, None, None)
        },
        other => {
            let Some(duration) = other.strip_prefix("every ") else {
                return Err(err(format!("unknown descriptor `{spec}`")));
            };
            let nanos = go_duration_nanos(duration)
                .ok_or_else(|| err(format!("`{duration}` in `{spec}` is not a duration like 1h30m")))?;
            // Shorter than a second runs every second; sub-second parts
            // are dropped.
            return Ok(Schedule::Every((nanos / 1_000_000_000).max(1)));
        }
    };
    Ok(Schedule::Fields(fields))
}

/// A Go `time.ParseDuration` string in nanoseconds (non-negative only:
/// a negative delay is of no use to a schedule).
pub fn go_duration_nanos(text: &str) -> Option<u64> {
    // Negative delays parse, and a schedule treats them like 0.
    let text = match text.strip_prefix('-') {
        Some(rest) => return go_duration_nanos(rest).map(|_| 0),
        None => text.strip_prefix('+').unwrap_or(text),
    };
    if text == "0" {
        return Some(0);
    }
    if text.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(number_end);
        if number.is_empty() || number == "." {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += value * scale;
        rest = tail;
    }
    (total.is_finite() && total < 9.3e18).then_some(total as u64)
}

impl Schedule {
    /// Written with five fields: the operator reads them as
    /// `second minute hour day-of-month month`, which a classic crontab
    /// line (`minute hour day month weekday`) silently becomes.
    pub fn five_fields(&self) -> bool {
        matches!(self, Schedule::Fields(f) if f.five)
    }

    /// The first run strictly after `after` (Unix seconds, UTC), or `None`
    /// when the schedule never fires within five years (e.g. 30 February).
    pub fn next_after(&self, after: i64) -> Option<i64> {
        match self {
            Schedule::Every(seconds) => Some(after + i64::try_from(*seconds).ok()?),
            Schedule::Fields(fields) => fields.next_after(after),
        }
    }

    /// The next `count` runs after `after`.
    pub fn upcoming(&self, after: i64, count: usize) -> Vec<i64> {
        let mut runs = Vec::with_capacity(count);
        let mut at = after;
        while runs.len() < count {
            match self.next_after(at) {
                Some(next) => {
                    runs.push(next);
                    at = next;
                }
                None => break,
            }
        }
        runs
    }
}

fn has(bits: u64, value: i64) -> bool {
    (0..64).contains(&value) && bits & (1 << value) != 0
}

impl Fields {
    fn day_matches(&self, day: &crate::time::Civil) -> bool {
        let dom = has(self.day_of_month, i64::from(day.day));
        let dow = has(self.day_of_week, i64::from(day.weekday));
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    fn next_after(&self, after: i64) -> Option<i64> {
        use crate::time::{Civil, days_from_civil};
        let limit_year = Civil::from_unix(after).year + 5;
        let mut t = after + 1;
        loop {
            let c = Civil::from_unix(t);
            if c.year > limit_year {
                return None;
            }
            if !has(self.month, i64::from(c.month)) {
                // First second of the next month.
                let (y, m) = if c.month == 12 {
                    (c.year + 1, 1)
                } else {
                    (c.year, c.month + 1)
                };
                t = days_from_civil(y, m, 1) * 86_400;
                continue;
            }
            if !self.day_matches(&c) {
                t = (t.div_euclid(86_400) + 1) * 86_400;
                continue;
            }
            if !has(self.hour, i64::from(c.hour)) {
                t = (t.div_euclid(3600) + 1) * 3600;
                continue;
            }
            if !has(self.minute, i64::from(c.minute)) {
                t = (t.div_euclid(60) + 1) * 60;
                continue;
            }
            if !has(self.second, i64::from(c.second)) {
                t += 1;
                continue;
            }
            return Some(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::format_seconds;

    fn at(text: &str) -> i64 {
        crate::time::parse_rfc3339(text).unwrap().0
    }

    fn next3(spec: &str, from: &str) -> Vec<String> {
        parse(spec)
            .unwrap()
            .upcoming(at(from), 3)
            .into_iter()
            .map(format_seconds)
            .collect()
    }

    #[test]
    fn six_fields_start_with_seconds() {
        assert_eq!(
            next3("0 0 2 * * *", "2026-12-06T01:00:00Z"),
            ["2026-12-06T02:00:00Z", "2026-12-07T02:00:00Z", "2026-12-08T02:00:00Z"]
        );
        assert_eq!(
            next3("*/20 * * * * *", "2026-12-06T01:00:05Z"),
            ["2026-12-06T01:00:20Z", "2026-12-06T01:00:40Z", "2026-12-06T01:01:00Z"]
        );
    }

    #[test]
    fn five_fields_are_read_seconds_first_and_flagged() {
        // A crontab line for "02:00 every day" fires every hour at :02 here.
        let schedule = parse("0 2 * * *").unwrap();
        assert!(schedule.five_fields());
        assert_eq!(
            next3("0 2 * * *", "2026-12-06T01:00:00Z"),
            ["2026-12-06T01:02:00Z", "2026-12-06T02:02:00Z", "2026-12-06T03:02:00Z"]
        );
        assert!(!parse("0 0 2 * * *").unwrap().five_fields());
    }

    #[test]
    fn names_ranges_steps_and_lists() {
        // Weekdays at 03:30:00, by name.
        assert_eq!(
            next3("0 30 3 * * MON-fri", "2026-12-04T04:00:00Z"),
            ["2026-12-07T03:30:00Z", "2026-12-08T03:30:00Z", "2026-12-09T03:30:00Z"]
        );
        // `N/step` runs to the end of the field.
        assert_eq!(
            next3("0 50/5 * * * *", "2026-12-06T01:00:00Z"),
            ["2026-12-06T01:50:00Z", "2026-12-06T01:55:00Z", "2026-12-06T02:50:00Z"]
        );
        assert_eq!(
            next3("0 0 0 1,15 jan,jul ?", "2026-12-06T00:00:00Z"),
            ["2027-01-01T00:00:00Z", "2027-01-15T00:00:00Z", "2027-07-01T00:00:00Z"]
        );
    }

    #[test]
    fn day_of_month_or_day_of_week_when_both_are_restricted() {
        // The 13th, or any Friday.
        assert_eq!(
            next3("0 0 0 13 * 5", "2026-12-06T00:00:00Z"),
            ["2026-12-11T00:00:00Z", "2026-12-13T00:00:00Z", "2026-12-18T00:00:00Z"]
        );
        // A star in one of them: both must match (Sundays only here).
        assert_eq!(
            next3("0 0 0 * * 0", "2026-12-06T00:00:00Z"),
            ["2026-12-13T00:00:00Z", "2026-12-20T00:00:00Z", "2026-12-27T00:00:00Z"]
        );
        // A stepped star keeps that rule: odd days that are Mondays.
        assert_eq!(
            next3("0 0 0 */2 * 1", "2026-12-06T00:00:00Z"),
            ["2026-12-07T00:00:00Z", "2026-12-21T00:00:00Z", "2027-01-11T00:00:00Z"]
        );
    }

    #[test]
    fn descriptors() {
        assert_eq!(next3("@daily", "2026-12-06T01:00:00Z")[0], "2026-12-07T00:00:00Z");
        assert_eq!(next3("@weekly", "2026-12-06T01:00:00Z")[0], "2026-12-13T00:00:00Z");
        assert_eq!(next3("@monthly", "2026-12-06T01:00:00Z")[0], "2027-01-01T00:00:00Z");
        assert_eq!(next3("@annually", "2026-12-06T01:00:00Z")[0], "2027-01-01T00:00:00Z");
        assert_eq!(
            next3("@hourly", "2026-12-06T01:00:00Z"),
            ["2026-12-06T02:00:00Z", "2026-12-06T03:00:00Z", "2026-12-06T04:00:00Z"]
        );
        assert_eq!(
            next3("@every 1h30m", "2026-12-06T01:00:00Z"),
            ["2026-12-06T02:30:00Z", "2026-12-06T04:00:00Z", "2026-12-06T05:30:00Z"]
        );
        assert_eq!(parse("@every 200ms").unwrap(), Schedule::Every(1));
        assert_eq!(parse("@every -5m").unwrap(), Schedule::Every(1));
        // Case and spacing count, as in the library.
        assert!(parse("@Daily").is_err());
        assert!(parse("@every  1h").is_err());
        assert!(parse(" @daily").is_err());
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        for (spec, needle) in [
            ("", "empty"),
            ("* * * *", "found 4"),
            ("0 0 0 0 0 0 0", "found 7"),
            ("60 * * * * *", "above the maximum 59"),
            ("0 0 24 * * *", "hour 24"),
            ("0 0 0 0 * *", "below the minimum 1"),
            ("0 0 0 * 13 *", "month 13"),
            ("0 0 0 * * 7", "day of week 7"),
            ("0 0 0 * * 5-2", "starts after it ends"),
            ("0 */0 * * * *", "must be positive"),
            ("0 1-2-3 * * * *", "too many `-`"),
            ("0 x * * * *", "`x` is not a number"),
            ("@fortnightly", "unknown descriptor"),
            ("@every soon", "not a duration"),
        ] {
            let error = parse(spec).unwrap_err();
            assert!(error.0.contains(needle), "{spec:?}: {error}");
        }
    }

    #[test]
    fn impossible_dates_never_fire() {
        assert_eq!(
            parse("0 0 0 30 2 *").unwrap().next_after(at("2026-12-06T00:00:00Z")),
            None
        );
        // 29 February comes back in leap years.
        assert_eq!(next3("0 0 0 29 2 *", "2026-12-06T00:00:00Z")[0], "2028-02-29T00:00:00Z");
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration_nanos("1h30m"), Some(5_400_000_000_000));
        assert_eq!(go_duration_nanos("1.5h"), Some(5_400_000_000_000));
        assert_eq!(go_duration_nanos("90s"), Some(90_000_000_000));
        assert_eq!(go_duration_nanos("0"), Some(0));
        assert_eq!(go_duration_nanos("5"), None);
        assert_eq!(go_duration_nanos("1d"), None);
        assert_eq!(go_duration_nanos(""), None);
    }
}
