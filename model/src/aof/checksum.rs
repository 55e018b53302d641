//! Checksum annotations in incr files: after each batch of records it writes, durakv appends
//! `#durakv crc64=<16 hex digits> len=<decimal>\r\n`, the CRC-64 (`crc64fast`, CRC-64/XZ) and
//! length of every byte since the previous such line (or since the start of the file).
//!
//! Redis 7.0's loader and `redis-check-aof` skip lines beginning with `#`, so our files stay
//! readable by Redis. Owns the line's format and the running digest. Invariant: a digest covers
//! exactly the bytes between two checksum lines — other `#` lines (Redis's `#TS:`) and records
//! Redis appended are covered like any other byte, so the first line durakv writes after
//! reopening a file also vouches for what was there.

/// What every checksum line starts with.
pub const PREFIX: &[u8] = b"#durakv crc64=";

/// A running CRC-64 with the length it covers. Compared and hashed by value, so engine states
/// holding one stay comparable for the model checker.
#[derive(Clone)]
pub struct Running {
    digest: crc64fast::Digest,
    len: u64,
}

impl Running {
    pub fn new() -> Self {
        Running {
            digest: crc64fast::Digest::new(),
            len: 0,
        }
    }

    pub fn write(&mut self, bytes: &[u8]) {
        self.digest.write(bytes);
        self.len += bytes.len() as u64;
    }

    pub fn crc(&self) -> u64 {
        self.digest.sum64()
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The line vouching for what this digest covers.
    pub fn line(&self) -> Vec<u8> {
        format!("#durakv crc64={:016x} len={}\r\n", self.crc(), self.len).into_bytes()
    }
}

impl Default for Running {
    fn default() -> Self {
        Self::new()
    }
}

impl PartialEq for Running {
    fn eq(&self, other: &Self) -> bool {
        (self.crc(), self.len) == (other.crc(), other.len)
    }
}

impl Eq for Running {}

impl std::hash::Hash for Running {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.crc(), self.len).hash(state);
    }
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "crc64={:016x} len={}", self.crc(), self.len)
    }
}

/// What a checksum line says: (crc, len). `None` if `line` (one `#` line, CRLF included) is
/// not a checksum line; `Some(Err)` if it starts like one but cannot be read.
pub fn parse(line: &[u8]) -> Option<Result<(u64, u64), String>> {
    let rest = line.strip_prefix(PREFIX)?;
    let text = std::str::from_utf8(rest).ok();
    let fields = text
        .and_then(|t| t.strip_suffix("\r\n"))
        .and_then(|t| t.split_once(" len="));
    let parsed = fields.and_then(|(crc, len)| {
        let crc = (crc.len() == 16).then(|| u64::from_str_radix(crc, 16).ok())??;
        Some((crc, len.parse::<u64>().ok()?))
    });
    Some(parsed.ok_or_else(|| {
        format!(
            "unreadable checksum line {:?}",
            String::from_utf8_lossy(line)
        )
    }))
}

/// What the `#` line `line`, at file offset `at`, means after the bytes `running` digested:
/// `Ok(true)` a checksum line vouching for them (the digest restarts after it), `Ok(false)`
/// another annotation (data like the rest), `Err` a line that cannot be read or does not match.
pub fn check(line: &[u8], running: &Running, at: u64) -> Result<bool, String> {
    match parse(line) {
        None => Ok(false),
        Some(Err(reason)) => Err(reason),
        Some(Ok(said)) if said == (running.crc(), running.len()) => Ok(true),
        Some(Ok((crc, len))) => Err(format!(
            "checksum mismatch: the line says crc64 {crc:016x} over {len} bytes, the {} bytes \
             before it (from offset {}) give {:016x}",
            running.len(),
            at.saturating_sub(running.len()),
            running.crc()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_reads_back_what_it_vouches_for() {
        let mut running = Running::new();
        running.write(b"*1\r\n$4\r\nPING\r\n");
        let line = running.line();
        assert_eq!(parse(&line), Some(Ok((running.crc(), 14))));
        assert_eq!(parse(b"#TS:1700000000\r\n"), None);
        assert!(matches!(parse(b"#durakv crc64=zz len=1\r\n"), Some(Err(_))));
        assert!(matches!(
            parse(b"#durakv crc64=0000000000000000 len=\r\n"),
            Some(Err(_))
        ));
    }

    #[test]
    fn the_crc_is_crc64_xz() {
        let mut running = Running::new();
        running.write(b"123456789");
        assert_eq!(
            running.crc(),
            0x995d_c9bb_df19_39fa,
            "CRC-64/XZ check value"
        );
    }

    #[test]
    fn equal_digests_compare_equal() {
        let (mut a, mut b) = (Running::new(), Running::new());
        a.write(b"ab");
        b.write(b"a");
        assert_ne!(a, b);
        b.write(b"b");
        assert_eq!(a, b);
    }
}
