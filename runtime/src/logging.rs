//! The server log: plain lines on stderr in Redis's shape,
//! `<pid>:M <dd Mon yyyy hh:mm:ss.mmm> <level> <message>` (UTC).
//!
//! Owns formatting only. Invariant: one call writes one whole line under the stderr lock, so
//! lines from the event loop, the file threads and the signal thread never interleave.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use model::engine::Level;

/// Redis's level marks: `*` notice, `#` warning.
pub(crate) fn notice(message: &str) {
    line('*', message);
}

pub(crate) fn warning(message: &str) {
    line('#', message);
}

/// Prints an event the engine produced through `poll_event`.
pub(crate) fn engine(level: Level, message: &str) {
    match level {
        Level::Notice => notice(message),
        Level::Warning => warning(message),
    }
}

fn line(mark: char, message: &str) {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let stamp = timestamp(now_ms);
    let mut stderr = std::io::stderr().lock();
    // A closed stderr must not stop the server; there is nowhere else to report it.
    let _ = writeln!(stderr, "{}:M {stamp} {mark} {message}", std::process::id());
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `24 Nov 2025 07:10:00.123` for a unix time in milliseconds.
pub(crate) fn timestamp(unix_ms: u64) -> String {
    let days = unix_ms / 86_400_000;
    let ms_of_day = unix_ms % 86_400_000;
    let (year, month, day) = civil_from_days(days);
    let (h, m, s, ms) = (
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000,
    );
    format!(
        "{day:02} {} {year} {h:02}:{m:02}:{s:02}.{ms:03}",
        MONTHS[month as usize - 1]
    )
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month 1..=12, day).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0), "01 Jan 1970 00:00:00.000");
        // 2024-02-29T12:34:56.789Z, a leap day.
        assert_eq!(timestamp(1_709_210_096_789), "29 Feb 2024 12:34:56.789");
    }
}
