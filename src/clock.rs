//! RFC 3339 UTC timestamps: written in every audit line and in rotated secrets
//! (`rotated_at`), read back to tell a secret's age.

/// RFC 3339 UTC with milliseconds: `2026-11-29T22:55:00.123Z` (the `time` crate's
/// calendar).
#[must_use]
pub fn timestamp(at: std::time::SystemTime) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from(at)
        .format(FORMAT)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".to_owned())
}

/// Seconds since the epoch of an RFC 3339 timestamp (`2026-11-29T22:55:00Z`, or
/// with an offset such as `+02:00`, which is applied). Parsed by the `time`
/// crate: an impossible date (month 13, February 30) is `None`, never a guess.
#[must_use]
pub fn parse_timestamp(text: &str) -> Option<u64> {
    let parsed =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    u64::try_from(parsed.unix_timestamp()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_dates_and_offsets() {
        assert_eq!(parse_timestamp("2024-13-15T10:30:00Z"), None, "month 13");
        assert_eq!(parse_timestamp("2024-02-30T10:30:00Z"), None, "February 30");
        assert_eq!(
            parse_timestamp("2024-01-15T12:30:00+02:00"),
            Some(1_705_314_600),
            "the offset is applied"
        );
    }
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_795_996_800_123);
        assert_eq!(timestamp(time), "2026-11-30T00:00:00.123Z");
        assert_eq!(timestamp(std::time::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = std::time::UNIX_EPOCH + std::time::Duration::from_secs(951_782_400);
        assert_eq!(timestamp(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn timestamps_round_trip() {
        let at = UNIX_EPOCH + Duration::from_secs(1_795_996_800);
        assert_eq!(parse_timestamp(&timestamp(at)), Some(1_795_996_800));
        assert_eq!(parse_timestamp("2024-01-15T10:30:00Z"), Some(1_705_314_600));
        assert_eq!(parse_timestamp("yesterday"), None);
    }
}
