//! Durations as people write them in configuration: `30s`, `5m`, `1h30m`, `90d`.
//!
//! Used for the `duration` type and for `rotate.every`. A bare number means
//! seconds (what `SECRETS_CACHE_TTL=300` means). Units: `ms`, `s`, `m`, `h`, `d`, `w`.

/// A parsed duration.
pub type Duration = std::time::Duration;

/// Parses a duration such as `90d`, `1h30m`, `250ms` or `300` (seconds).
///
/// # Errors
/// A sentence saying what is wrong, for use in a diagnostic.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("an empty duration".to_owned());
    }
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("expected a number before {rest:?}"));
        }
        let amount: u64 = rest[..digits]
            .parse()
            .map_err(|_| "a number too large".to_owned())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let part = unit_duration(amount, &rest[..unit_len])?;
        total = total
            .checked_add(part)
            .ok_or_else(|| "a duration too large".to_owned())?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// The units and their seconds (`ms` is apart: milliseconds); the generated
/// Python reads durations with this same table.
pub const UNITS: &[(&str, u64)] = &[
    ("s", 1),
    ("m", 60),
    ("h", 3_600),
    ("d", 86_400),
    ("w", 604_800),
];

fn unit_duration(amount: u64, unit: &str) -> Result<Duration, String> {
    if unit == "ms" {
        return Ok(Duration::from_millis(amount));
    }
    let seconds_per_unit = match UNITS.iter().find(|(name, _)| *name == unit) {
        Some((_, seconds)) => *seconds,
        None if unit.is_empty() => {
            return Err(
                "a unit after every number but the only one (ms, s, m, h, d, w)".to_owned(),
            );
        }
        None => {
            return Err(format!(
                "an unknown unit {unit:?} (use ms, s, m, h, d or w)"
            ));
        }
    };
    amount
        .checked_mul(seconds_per_unit)
        .map(Duration::from_secs)
        .ok_or_else(|| "a duration too large".to_owned())
}

/// Renders a duration in the largest whole unit, as docs show it (`90 days`).
#[must_use]
pub fn describe(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let units = [
        (604_800, "week"),
        (86_400, "day"),
        (3_600, "hour"),
        (60, "minute"),
    ];
    for (size, name) in units {
        if seconds >= size && seconds.is_multiple_of(size) && duration.subsec_nanos() == 0 {
            let count = seconds / size;
            return format!("{count} {name}{}", if count == 1 { "" } else { "s" });
        }
    }
    if duration.subsec_nanos() == 0 {
        format!("{seconds} seconds")
    } else {
        format!("{} milliseconds", duration.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_compounds() {
        assert_eq!(parse("300"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("2w"), Ok(Duration::from_secs(1_209_600)));
    }

    #[test]
    fn rejects_malformed_durations() {
        assert!(parse("").is_err());
        assert!(parse("abc").is_err());
        assert!(parse("5x").unwrap_err().contains("unknown unit"));
        assert!(parse("1h30").is_err());
        assert!(parse("99999999999999999999d").is_err());
    }

    #[test]
    fn describes_in_largest_whole_unit() {
        assert_eq!(describe(Duration::from_secs(90 * 86_400)), "90 days");
        assert_eq!(describe(Duration::from_secs(3_600)), "1 hour");
        assert_eq!(describe(Duration::from_secs(45)), "45 seconds");
        assert_eq!(describe(Duration::from_millis(1_500)), "1500 milliseconds");
    }
}
