//! Shared nom pieces: timestamps, numbers, quoted strings, `user@host` forms.
//!
//! Every parser here works on bytes, borrows from its input and never panics.

use nom::branch::alt;
use nom::bytes::complete::{take_while1, take_while_m_n};
use nom::character::complete::{char, one_of};
use nom::combinator::{map_res, opt, verify};
use nom::sequence::preceded;
use nom::{IResult, Parser};

use crate::time::Timestamp;

/// nom result on bytes.
pub(crate) type PResult<'a, T> = IResult<&'a [u8], T>;

pub(crate) fn is_digit(b: u8) -> bool {
    b.is_ascii_digit()
}

/// Exactly `n` ASCII digits as a number.
pub(crate) fn fixed_digits<'a>(n: usize) -> impl Parser<&'a [u8], Output = u32, Error = nom::error::Error<&'a [u8]>> {
    map_res(take_while_m_n(n, n, is_digit), |d: &[u8]| digits_u32(d).ok_or(()))
}

/// 1 to `max` ASCII digits as a number.
fn some_digits<'a>(max: usize) -> impl Parser<&'a [u8], Output = u32, Error = nom::error::Error<&'a [u8]>> {
    map_res(take_while_m_n(1, max, is_digit), |d: &[u8]| digits_u32(d).ok_or(()))
}

pub(crate) fn digits_u32(d: &[u8]) -> Option<u32> {
    let mut v: u32 = 0;
    for &b in d {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u32::from(b - b'0'))?;
    }
    Some(v)
}

/// An unsigned decimal number (no sign, no spaces); `None` on empty, non-digit or overflow.
#[must_use]
// Inlined: short numbers in hot paths (slow-log metrics, ids), where a call cost as much as the digits.
#[inline(always)]
pub(crate) fn parse_u64(d: &[u8]) -> Option<u64> {
    if d.is_empty() || d.len() > 20 {
        return None;
    }
    // One pass; up to 19 digits cannot overflow, so only a 20-digit number is checked.
    let mut v: u64 = 0;
    if d.len() < 20 {
        for &b in d {
            let x = b.wrapping_sub(b'0');
            if x > 9 {
                return None;
            }
            v = v * 10 + u64::from(x);
        }
        return Some(v);
    }
    for &b in d {
        let x = b.wrapping_sub(b'0');
        if x > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(x))?;
    }
    Some(v)
}

/// A signed decimal integer.
#[must_use]
pub(crate) fn parse_i64(d: &[u8]) -> Option<i64> {
    match d.split_first() {
        Some((b'-', rest)) => parse_u64(rest).and_then(|v| i64::try_from(v).ok()).map(|v| -v),
        _ => parse_u64(d).and_then(|v| i64::try_from(v).ok()),
    }
}

/// Fractional seconds: 1 or more digits, only the first six count (µs); more digits are ignored.
fn fraction(i: &[u8]) -> PResult<'_, u32> {
    let (rest, d) = preceded(char('.'), take_while1(is_digit)).parse(i)?;
    let mut us = 0u32;
    for k in 0..6 {
        us = us * 10 + d.get(k).map_or(0, |b| u32::from(b - b'0'));
    }
    Ok((rest, us))
}

/// Zone designator: `Z`, `±hh:mm` or `±hhmm`; returns the offset in seconds east of UTC.
fn zone(i: &[u8]) -> PResult<'_, i64> {
    alt((
        char('Z').map(|_| 0i64),
        (one_of("+-"), fixed_digits(2), opt(char(':')), fixed_digits(2)).map(|(s, h, _, m)| {
            let off = i64::from(h) * 3600 + i64::from(m) * 60;
            if s == '-' {
                -off
            } else {
                off
            }
        }),
    ))
    .parse(i)
}

#[allow(clippy::too_many_arguments)]
fn civil(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32, us: u32, off: i64) -> Option<Timestamp> {
    let ts = Timestamp::from_civil(y, mo, d, h, mi, s, us)?;
    Some(Timestamp::from_epoch_micros(ts.epoch_micros() - off * 1_000_000))
}

/// ISO 8601 as MySQL 5.7+ writes it: `2020-10-23T07:47:31.319556Z`, `2018-09-07T18:45:40.098124+08:00`.
/// Also accepts a space instead of `T` and a missing zone (then UTC).
pub(crate) fn iso_timestamp(i: &[u8]) -> PResult<'_, Timestamp> {
    match iso_utc_micros(i) {
        Some(done) => Ok(done),
        None => iso_timestamp_general(i),
    }
}

/// [`iso_timestamp`] with the combinators only.
fn iso_timestamp_general(i: &[u8]) -> PResult<'_, Timestamp> {
    let (rest, (y, _, mo, _, d, _, h, _, mi, _, s, us, off)) = (
        fixed_digits(4),
        char('-'),
        fixed_digits(2),
        char('-'),
        fixed_digits(2),
        one_of("T "),
        fixed_digits(2),
        char(':'),
        fixed_digits(2),
        char(':'),
        fixed_digits(2),
        opt(fraction),
        opt(zone),
    )
        .parse(i)?;
    let ts = civil(i64::from(y), mo, d, h, mi, s, us.unwrap_or(0), off.unwrap_or(0));
    ts.map(|t| (rest, t)).ok_or_else(|| err(i))
}

/// The layout MySQL 8.0 writes in every record, `2020-10-23T07:47:31.319556Z`, read by hand (it runs once per
/// record; the combinators cost about ten times as much). Anything else, or a date that does not exist, is left
/// to the general parser, which gives the same result for this layout.
fn iso_utc_micros(i: &[u8]) -> Option<(&[u8], Timestamp)> {
    let (date, t, [h, mi, s, us]) = utc_micros_parts(i)?;
    if t != b'T' && t != b' ' {
        return None;
    }
    let [y0, y1, y2, y3, _, m0, m1, _, d0, d1] = date;
    let ts = civil(
        i64::from(digits_u32(&[y0, y1, y2, y3])?),
        digits_u32(&[m0, m1])?,
        digits_u32(&[d0, d1])?,
        h,
        mi,
        s,
        us,
        0,
    )?;
    Some((i.get(27..)?, ts))
}

/// `2020-10-23T07:47:31.319556Z` split by hand: the date's ten bytes (dashes checked, digits not), the byte
/// between date and time, and the time of day's hours, minutes, seconds and microseconds (digits checked, ranges
/// not).
pub(crate) fn utc_micros_parts(i: &[u8]) -> Option<([u8; 10], u8, [u32; 4])> {
    let b: [u8; 27] = i.get(..27)?.try_into().ok()?;
    let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1, t, h0, h1, b':', n0, n1, b':', s0, s1, b'.', f0, f1, f2, f3, f4, f5, b'Z'] =
        b
    else {
        return None;
    };
    let time = [
        digits_u32(&[h0, h1])?,
        digits_u32(&[n0, n1])?,
        digits_u32(&[s0, s1])?,
        digits_u32(&[f0, f1, f2, f3, f4, f5])?,
    ];
    Some(([y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1], t, time))
}

/// MariaDB's error log date: `2023-04-27 14:36:09` or, with a space-padded hour, `2021-07-06  7:29:32`.
pub(crate) fn dash_date_time(i: &[u8]) -> PResult<'_, Timestamp> {
    let (rest, (y, _, mo, _, d, _, h, _, mi, _, s, us)) = (
        fixed_digits(4),
        char('-'),
        fixed_digits(2),
        char('-'),
        fixed_digits(2),
        take_while_m_n(1, 2, |b| b == b' '),
        some_digits(2),
        char(':'),
        fixed_digits(2),
        char(':'),
        fixed_digits(2),
        opt(fraction),
    )
        .parse(i)?;
    civil(i64::from(y), mo, d, h, mi, s, us.unwrap_or(0), 0).map(|t| (rest, t)).ok_or_else(|| err(i))
}

/// The legacy `YYMMDD HH:MM:SS` form (general, slow and error logs of MySQL <= 5.6 and MariaDB), where the
/// hour may be space-padded (`100211  0:55:24`) and the gap may be 1 to 3 spaces or a tab.
/// Two-digit years are 20YY when below 70, else 19YY.
pub(crate) fn short_timestamp(i: &[u8]) -> PResult<'_, Timestamp> {
    let (rest, (yy, mo, d, _, h, _, mi, _, s, us)) = (
        fixed_digits(2),
        fixed_digits(2),
        fixed_digits(2),
        take_while_m_n(1, 3, |b| b == b' '),
        some_digits(2),
        char(':'),
        fixed_digits(2),
        char(':'),
        fixed_digits(2),
        opt(fraction),
    )
        .parse(i)?;
    let y = if yy < 70 { 2000 + i64::from(yy) } else { 1900 + i64::from(yy) };
    civil(y, mo, d, h, mi, s, us.unwrap_or(0), 0).map(|t| (rest, t)).ok_or_else(|| err(i))
}

/// The audit plugin's `YYYYMMDD HH:MM:SS`.
pub(crate) fn compact_timestamp(i: &[u8]) -> PResult<'_, Timestamp> {
    let (rest, (y, mo, d, _, h, _, mi, _, s)) = (
        fixed_digits(4),
        fixed_digits(2),
        fixed_digits(2),
        char(' '),
        fixed_digits(2),
        char(':'),
        fixed_digits(2),
        char(':'),
        fixed_digits(2),
    )
        .parse(i)?;
    civil(i64::from(y), mo, d, h, mi, s, 0, 0).map(|t| (rest, t)).ok_or_else(|| err(i))
}

/// Aurora's 16-digit epoch-microsecond timestamp (a hand loop: it runs once per audit record).
pub(crate) fn epoch_micros(i: &[u8]) -> PResult<'_, Timestamp> {
    let (Some(digits), rest) = (i.get(..16), i.get(16..).unwrap_or_default()) else { return Err(err(i)) };
    if rest.first().is_some_and(u8::is_ascii_digit) {
        return Err(err(i));
    }
    let mut v: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return Err(err(i));
        }
        v = v * 10 + i64::from(b - b'0');
    }
    Ok((rest, Timestamp::from_epoch_micros(v)))
}

pub(crate) fn err(i: &[u8]) -> nom::Err<nom::error::Error<&[u8]>> {
    nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Verify))
}

/// Spaces and tabs (at least one).
pub(crate) fn blanks1(i: &[u8]) -> PResult<'_, &[u8]> {
    take_while1(|b| b == b' ' || b == b'\t').parse(i)
}

/// A run of digits as `u64`.
pub(crate) fn number(i: &[u8]) -> PResult<'_, u64> {
    map_res(verify(take_while1(is_digit), |d: &[u8]| d.len() <= 20), |d| parse_u64(d).ok_or(())).parse(i)
}

/// Removes one trailing `\r` (tolerated CRLF line ends).
#[must_use]
pub(crate) fn strip_cr(s: &[u8]) -> &[u8] {
    s.strip_suffix(b"\r").unwrap_or(s)
}

/// Parses `Access denied for user 'U'@'H'` (the text MySQL and MariaDB write for a failed login) anywhere in
/// `msg`. User names are not escaped by the server, so the split is at the last `'@'`.
/// Returns (user, host, errno): 1045 with `(using password: ...)`, 1698 without it, 1044 for `to database`.
#[must_use]
pub(crate) fn access_denied(msg: &[u8]) -> Option<(&[u8], &[u8], i64)> {
    const NEEDLE: &[u8] = b"Access denied for user '";
    let at = memchr::memmem::find(msg, NEEDLE)?;
    let rest = msg.get(at + NEEDLE.len()..)?;
    let rest = rest.get(..memchr::memchr(b'\n', rest).unwrap_or(rest.len()))?;
    // The host part never contains a quote, so the account ends at the first `'` after the last `'@'`
    // that is followed by a closing quote.
    let sep = memchr::memmem::rfind(rest, b"'@'")?;
    let user = rest.get(..sep)?;
    let after = rest.get(sep + 3..)?;
    let end = memchr::memchr(b'\'', after)?;
    let host = after.get(..end)?;
    let tail = after.get(end + 1..).unwrap_or_default();
    let errno = if tail.trim_ascii_start().starts_with(b"to database") {
        1044
    } else if memchr::memmem::find(tail, b"(using password").is_some() {
        1045
    } else {
        1698
    };
    Some((user, host, errno))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hand_written_iso_layout_agrees_with_the_combinators() {
        // Valid and invalid dates and times, both separators, other zones and fraction lengths, trailing text.
        let mut n = 0;
        for y in ["2024", "1970", "0000", "9999", "20x4"] {
            for md in ["01-01", "02-29", "02-30", "12-31", "13-01", "00-10", "04-31"] {
                for t in ["T", " ", "_"] {
                    for hms in ["00:00:00", "23:59:59", "24:00:00", "12:60:00", "07:06:4x"] {
                        for tail in
                            [".000415Z", ".999999Z rest", ".1234567Z", ".000415+02:00", ".000415", "Z", ".00041Z"]
                        {
                            let s = format!("{y}-{md}{t}{hms}{tail}");
                            let fast = iso_timestamp(s.as_bytes()).map_err(|_| ());
                            let general = iso_timestamp_general(s.as_bytes()).map_err(|_| ());
                            assert_eq!(fast, general, "{s}");
                            n += 1;
                        }
                    }
                }
            }
        }
        assert!(n > 3000);
    }

    fn ts(p: fn(&[u8]) -> PResult<'_, Timestamp>, s: &str) -> String {
        p(s.as_bytes()).map(|(_, t)| t.to_rfc3339()).unwrap_or_else(|e| format!("ERR {e:?}"))
    }

    #[test]
    fn iso_forms() {
        assert_eq!(ts(iso_timestamp, "2020-10-23T07:47:31.319556Z"), "2020-10-23T07:47:31.319556Z");
        assert_eq!(ts(iso_timestamp, "2018-09-07T18:45:40.098124+08:00"), "2018-09-07T10:45:40.098124Z");
        assert_eq!(ts(iso_timestamp, "2018-08-07T16:27:47.169604-0130"), "2018-08-07T17:57:47.169604Z");
        assert_eq!(ts(iso_timestamp, "2023-11-28 09:13:22"), "2023-11-28T09:13:22.000000Z");
        assert!(iso_timestamp(b"2023-13-28T09:13:22Z").is_err());
        assert!(iso_timestamp(b"2023-11-28X09:13:22Z").is_err());
    }

    #[test]
    fn legacy_forms() {
        assert_eq!(ts(short_timestamp, "061226 15:42:36"), "2006-12-26T15:42:36.000000Z");
        assert_eq!(ts(short_timestamp, "100211  0:55:24"), "2010-02-11T00:55:24.000000Z");
        assert_eq!(ts(short_timestamp, "051007   21:55:24"), "2005-10-07T21:55:24.000000Z");
        assert_eq!(ts(short_timestamp, "121123 19:56:06.0000001967"), "2012-11-23T19:56:06.000000Z");
        assert_eq!(ts(short_timestamp, "991231 23:59:59"), "1999-12-31T23:59:59.000000Z");
        assert_eq!(ts(dash_date_time, "2021-07-06  7:29:32"), "2021-07-06T07:29:32.000000Z");
        assert_eq!(ts(compact_timestamp, "20221201 14:07:05"), "2022-12-01T14:07:05.000000Z");
        assert_eq!(ts(epoch_micros, "1703817810074458,"), "2023-12-29T02:43:30.074458Z");
        assert!(epoch_micros(b"17038178100744580,").is_err());
        assert!(epoch_micros(b"170381781007445,").is_err());
    }

    #[test]
    fn access_denied_forms() {
        let m = b"Access denied for user 'root'@'172.30.0.3' (using password: NO)";
        assert_eq!(access_denied(m), Some((&b"root"[..], &b"172.30.0.3"[..], 1045)));
        let m = b"[MY-010926] [Server] Access denied for user 'it'@'s'@'h' (using password: YES)";
        assert_eq!(access_denied(m), Some((&b"it'@'s"[..], &b"h"[..], 1045)));
        let m = b"Access denied for user 'u'@'%' to database 'secret'";
        assert_eq!(access_denied(m), Some((&b"u"[..], &b"%"[..], 1044)));
        assert_eq!(access_denied(b"Access denied for user 'x'@'y'"), Some((&b"x"[..], &b"y"[..], 1698)));
        assert_eq!(access_denied(b"Access denied for user 'x"), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_u64(b""), None);
    }

    proptest::proptest! {
        /// Integers read as the standard library reads them (at most 20 digits, no `+`, and not `i64::MIN`),
        /// around the 19- and 20-digit limits.
        #[test]
        fn integers_parse_like_std(minus in proptest::bool::ANY, d in "[0-9]{0,22}", noise in proptest::option::of("[ +x-]")) {
            let d = match noise { Some(n) => format!("{d}{n}"), None => d };
            let ok = d.len() <= 20 && !d.starts_with('+');
            proptest::prop_assert_eq!(parse_u64(d.as_bytes()), d.parse::<u64>().ok().filter(|_| ok));
            let s = if minus { format!("-{d}") } else { d.clone() };
            let want = s.parse::<i64>().ok().filter(|v| ok && *v != i64::MIN);
            proptest::prop_assert_eq!(parse_i64(s.as_bytes()), want);
        }
    }
}
