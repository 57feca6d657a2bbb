//! `--since` / `--until` values.

use auditlog_core::Timestamp;
use chrono::{NaiveDate, NaiveDateTime, Utc};

/// Parses RFC 3339, `YYYY-MM-DD[ HH:MM[:SS]]` or `YYYY-MM-DDTHH:MM[:SS]` (UTC), or an age before `now`
/// such as `30s`, `90m`, `2h`, `7d`, `1w`.
pub fn parse_time(s: &str, now: chrono::DateTime<Utc>) -> Result<Timestamp, String> {
    let s = s.trim();
    let micros = |dt: chrono::DateTime<Utc>| Timestamp::from_epoch_micros(dt.timestamp_micros());
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(micros(dt.with_timezone(&Utc)));
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(micros(n.and_utc()));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(n) = d.and_hms_opt(0, 0, 0) {
            return Ok(micros(n.and_utc()));
        }
    }
    if let Some(d) = parse_duration(s) {
        let dt = chrono::Duration::from_std(d).ok().and_then(|d| now.checked_sub_signed(d));
        if let Some(dt) = dt {
            return Ok(micros(dt));
        }
    }
    Err(format!(
        "invalid time `{s}`: use RFC 3339 (2024-06-15T10:00:00Z), `2024-06-15 10:00` (UTC) or an age like 2h, 30m, 7d"
    ))
}

/// `500ms`, `30s`, `5m`, `2h`, `7d`, `1w`.
pub fn parse_duration(s: &str) -> Option<std::time::Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let secs = match unit {
        "ms" => return Some(std::time::Duration::from_millis(n)),
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        "w" => n.checked_mul(7 * 86_400)?,
        _ => return None,
    };
    Some(std::time::Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let now = chrono::DateTime::parse_from_rfc3339("2024-06-15T12:00:00Z").unwrap().with_timezone(&Utc);
        let t = |s: &str| parse_time(s, now).map(|t| t.to_rfc3339());
        assert_eq!(t("2024-06-15T10:00:00+02:00").unwrap(), "2024-06-15T08:00:00.000000Z");
        assert_eq!(t("2024-06-15 10:00").unwrap(), "2024-06-15T10:00:00.000000Z");
        assert_eq!(t("2024-06-15").unwrap(), "2024-06-15T00:00:00.000000Z");
        assert_eq!(t("2h").unwrap(), "2024-06-15T10:00:00.000000Z");
        assert_eq!(t("7d").unwrap(), "2024-06-08T12:00:00.000000Z");
        assert!(t("yesterday").is_err());
    }
}
