//! The `retry-after` header, as RFC 9110 allows it.

use std::time::Duration;

/// `retry-after` (RFC 9110): delay-seconds (digits; a fraction such as `1.5`
/// is tolerated), or an HTTP-date (IMF-fixdate, `Wed, 21 Oct 2015 07:28:00
/// GMT`) as the delay from now, zero once past. Anything else (`1e1`, `+1`,
/// `-1`, a blank) is no value.
pub(crate) fn parse_retry_after(v: &str) -> Option<Duration> {
    retry_after_at(v, std::time::SystemTime::now())
}

/// [`parse_retry_after`] with the clock given.
fn retry_after_at(v: &str, now: std::time::SystemTime) -> Option<Duration> {
    /// About 31 years: a longer wait means the same, and stays addable to an `Instant`.
    const LONGEST: u64 = 1_000_000_000;
    let v = v.trim();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (whole, fraction) = v.split_once('.').unwrap_or((v, "0"));
    if digits(whole) && digits(fraction) {
        // Only digits, so a failed parse is an overflow.
        let secs = whole.parse::<u64>().unwrap_or(u64::MAX);
        if secs >= LONGEST {
            return Some(Duration::from_secs(LONGEST));
        }
        let nanos = format!("{:0<9}", &fraction[..fraction.len().min(9)]);
        return Some(Duration::new(secs, nanos.parse().ok()?));
    }
    // IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`, fixed widths, single spaces.
    let parts: Vec<&str> = v.split(' ').collect();
    let [day_name, day, month, year, time, "GMT"] = parts[..] else {
        return None;
    };
    const DAYS: [&str; 7] = ["Mon,", "Tue,", "Wed,", "Thu,", "Fri,", "Sat,", "Sun,"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let number = |s: &str, width: usize| -> Option<i64> {
        (s.len() == width && digits(s)).then(|| s.parse().ok())?
    };
    let (hour, rest) = time.split_once(':')?;
    let (minute, second) = rest.split_once(':')?;
    let (day, year) = (number(day, 2)?, number(year, 4)?);
    let (hour, minute, second) = (number(hour, 2)?, number(minute, 2)?, number(second, 2)?);
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    if !DAYS.contains(&day_name)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = crate::time::days_from_civil(year, month, day);
    let at = u64::try_from(days * 86_400 + hour * 3600 + minute * 60 + second).ok()?;
    let at = std::time::UNIX_EPOCH.checked_add(Duration::from_secs(at))?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::retry_after_at;

    /// 2015-10-21 07:28:00 UTC.
    const AT: u64 = 1_445_412_480;

    fn parse(v: &str) -> Option<Duration> {
        retry_after_at(v, UNIX_EPOCH + Duration::from_secs(AT))
    }

    #[test]
    fn delay_seconds_are_digits_with_a_fraction_tolerated() {
        assert_eq!(parse("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(parse("0"), Some(Duration::ZERO));
        assert_eq!(parse("007"), Some(Duration::from_secs(7)));
        assert_eq!(parse("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse("0.0000000019"), Some(Duration::from_nanos(1)));
        let huge = parse("99999999999999999999999").unwrap();
        assert_eq!(huge, Duration::from_secs(1_000_000_000));
        for bad in [
            "1e1", "+1", "-1", " ", "", "abc", "1.", ".5", "1.5.2", "0x10", "1 2", "١", "inf",
            "NaN", "1,5",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn http_dates_are_a_delay_from_now_and_zero_once_past() {
        assert_eq!(parse("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(
            parse("Wed, 21 Oct 2015 07:28:30 GMT"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse("Thu, 22 Oct 2015 08:29:01 GMT"),
            Some(Duration::from_secs(86_400 + 3600 + 61))
        );
        assert_eq!(
            parse("Tue, 01 Mar 2016 00:00:00 GMT"),
            Some(Duration::from_secs(1_456_790_400 - AT))
        );
        assert_eq!(parse("Sun, 06 Nov 1994 08:49:37 GMT"), Some(Duration::ZERO));
        for bad in [
            "Wed, 21 Oct 2015 07:28:00 UTC",
            "Wed, 21 Oct 2015 07:28:00",
            "Wed 21 Oct 2015 07:28:00 GMT",
            "Wed, 21 Oct 15 07:28:00 GMT",
            "Wed, 1 Oct 2015 07:28:00 GMT",
            "Wed, 21 oct 2015 07:28:00 GMT",
            "Wed, 32 Oct 2015 07:28:00 GMT",
            "Wed, 21 Oct 2015 24:00:00 GMT",
            "Wed, 21 Oct 2015 07:28 GMT",
            "Wed,  21 Oct 2015 07:28:00 GMT",
            "Wednesday, 21-Oct-15 07:28:00 GMT",
            "Wed Oct 21 07:28:00 2015",
            "Xyz, 21 Oct 2015 07:28:00 GMT",
            "Wed, 21 Oct 2015 07:28:+1 GMT",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
