//! The `occurred` field: strict RFC 3339, a full date (`2026-11-24`) or a
//! date-time with a zone (`2026-11-24T10:00:00Z`, `...+01:00`), kept exactly
//! as the client wrote it. When left out, the server's UTC time is used.

use crate::ApiError;

/// Checks `text` and returns it unchanged, or a 400 saying what is expected.
pub fn check(text: &str) -> Result<&str, ApiError> {
    if is_rfc3339(text) {
        Ok(text)
    } else {
        Err(ApiError::bad_request(format!(
            "\"occurred\" must be an RFC 3339 date or date-time (2026-11-24 or 2026-11-24T10:00:00Z), not {text:?}"
        )))
    }
}

/// The current UTC date-time, as the server's default `occurred`.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn is_rfc3339(text: &str) -> bool {
    match text.split_once(['T', 't']) {
        None => is_full_date(text),
        Some((date, time)) => is_full_date(date) && is_time_with_offset(time),
    }
}

/// `YYYY-MM-DD`, a real calendar day.
fn is_full_date(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let (Some(year), Some(month), Some(day)) = (digits(&b[0..4]), digits(&b[5..7]), digits(&b[8..10])) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days_in_month).contains(&day)
}

/// `HH:MM:SS[.frac](Z|±HH:MM)`.
fn is_time_with_offset(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() < 9 || !is_hms(&b[..8]) {
        return false;
    }
    let mut rest = &b[8..];
    if let Some(after_dot) = rest.strip_prefix(b".") {
        let frac = after_dot.iter().take_while(|c| c.is_ascii_digit()).count();
        if frac == 0 {
            return false;
        }
        rest = &after_dot[frac..];
    }
    match rest {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', hh @ ..] if hh.len() == 5 && hh[2] == b':' => {
            matches!((digits(&hh[0..2]), digits(&hh[3..5])), (Some(h), Some(m)) if h <= 23 && m <= 59)
        }
        _ => false,
    }
}

fn is_hms(b: &[u8]) -> bool {
    if b[2] != b':' || b[5] != b':' {
        return false;
    }
    // Second 60 is RFC 3339's leap second.
    matches!((digits(&b[0..2]), digits(&b[3..5]), digits(&b[6..8])), (Some(h), Some(m), Some(s)) if h <= 23 && m <= 59 && s <= 60)
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Any text: taken exactly as given, or the contract's 400.
        #[test]
        fn a_date_is_taken_as_given_or_a_400(text in "\\PC{0,40}|[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2}))?") {
            match check(&text) {
                Ok(taken) => proptest::prop_assert_eq!(taken, text.as_str()),
                Err(error) => proptest::prop_assert_eq!(error.status, 400),
            }
        }
    }

    #[test]
    fn accepts_dates_and_zoned_date_times() {
        for good in [
            "2026-11-24",
            "2024-02-29",
            "2026-11-24T10:00:00Z",
            "2026-11-24t10:00:00z",
            "2026-11-24T10:00:00+01:00",
            "2026-11-24T23:59:60.123456-05:30",
        ] {
            assert_eq!(check(good), Ok(good), "{good}");
        }
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-02-29",
            "2026-11-31",
            "2026-1-24",
            "26-11-24",
            "2026-11-24T10:00:00",
            "2026-11-24 10:00:00Z",
            "2026-11-24T24:00:00Z",
            "2026-11-24T10:00Z",
            "2026-11-24T10:00:00.Z",
            "2026-11-24T10:00:00+0100",
            "2026-11-24T10:00:00+24:00",
            "+2026-11-24",
        ] {
            assert_eq!(check(bad).unwrap_err().status, 400, "{bad}");
        }
    }

    #[test]
    fn now_is_itself_valid() {
        let now = now();
        assert_eq!(check(&now), Ok(now.as_str()));
    }
}
