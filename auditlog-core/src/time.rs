//! Timestamps: microseconds since the Unix epoch, UTC.
//!
//! Log timestamps are parsed by hand from bytes (no general-purpose date parser in the hot path) into a
//! [`Timestamp`], a plain `i64` of microseconds. [`Timestamp::to_rfc3339`] formats it the way every output of
//! auditlog does: RFC 3339, UTC, exactly six fractional digits.

use std::fmt;

/// A point in time: microseconds since 1970-01-01T00:00:00Z.
///
/// ```
/// use auditlog_core::Timestamp;
/// let ts = Timestamp::from_epoch_micros(1_703_817_810_074_458);
/// assert_eq!(ts.to_rfc3339(), "2023-12-29T02:43:30.074458Z");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// Makes a timestamp from microseconds since the epoch.
    #[must_use]
    pub const fn from_epoch_micros(us: i64) -> Self {
        Timestamp(us)
    }

    /// Microseconds since the epoch.
    #[must_use]
    pub const fn epoch_micros(self) -> i64 {
        self.0
    }

    /// Makes a timestamp from a civil UTC date and time, or `None` when a field is out of range.
    ///
    /// ```
    /// use auditlog_core::Timestamp;
    /// let ts = Timestamp::from_civil(2024, 6, 15, 10, 32, 0, 5).unwrap();
    /// assert_eq!(ts.to_rfc3339(), "2024-06-15T10:32:00.000005Z");
    /// assert!(Timestamp::from_civil(2024, 2, 30, 0, 0, 0, 0).is_none());
    /// ```
    #[must_use]
    pub fn from_civil(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32, us: u32) -> Option<Self> {
        if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60 {
            return None;
        }
        if us > 999_999 || !(0..=9999).contains(&y) {
            return None;
        }
        let days = days_from_civil(y, mo, d);
        let secs = days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s);
        Some(Timestamp(secs * 1_000_000 + i64::from(us)))
    }

    /// This timestamp as a chrono `DateTime<Utc>`.
    #[must_use]
    pub fn to_chrono(self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_micros(self.0).unwrap_or_default()
    }

    /// RFC 3339 in UTC with microseconds, e.g. `2023-12-29T02:43:30.074458Z`.
    #[must_use]
    pub fn to_rfc3339(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(1_000_000);
        let us = self.0.rem_euclid(1_000_000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(f, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{us:06}Z", sod / 3600, (sod / 60) % 60, sod % 60)
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

// Howard Hinnant's days_from_civil / civil_from_days.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_civil_dates() {
        for &(y, m, d) in &[(1970, 1, 1), (2000, 2, 29), (2023, 12, 31), (1969, 12, 31), (2400, 3, 1)] {
            let days = days_from_civil(y, m, d);
            assert_eq!(civil_from_days(days), (y, i64::from(m), i64::from(d)));
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
    }

    #[test]
    fn formats_like_chrono() {
        for us in [0i64, 1, 1_703_817_810_074_458, -1, 951_782_400_000_000, 4_102_444_799_999_999] {
            let ts = Timestamp::from_epoch_micros(us);
            let c = ts.to_chrono().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
            assert_eq!(ts.to_rfc3339(), c);
        }
    }
}
