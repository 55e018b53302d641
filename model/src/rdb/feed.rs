//! A push-fed RDB decoder: chunks of a file or a replication payload in, keys out as soon as
//! each entry is whole.
//!
//! Owns resumable loading (a replica's full sync without holding the payload). It shares
//! `decode`'s per-entry code (`read_header`, `read_item`), so the two cannot drift.
//! Invariants: feeding any split of a file gives exactly [`decode`](super::decode)'s result,
//! and its error (same offset, same reason) on corrupt input, or from [`StreamDecoder::finish`]
//! on truncated input; only the bytes not yet consumed are kept; an incomplete entry is
//! retried only once the unconsumed bytes have more than doubled since the last failed
//! attempt, so a 500 MB value costs O(log) attempts and total work stays linear.

use super::checksum::Crc64;
use super::decode::{read_header, read_item, LoadOptions, Loaded, State};
use super::format::{OPCODE_EOF, RDB_VERSION_CHECKSUM_MIN};
use super::reader::{RdbError, Reader};
use crate::keyspace::Keyspace;

/// What a feed achieved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The file has not ended yet: feed more.
    NeedMore,
    /// The trailer was read and checked; bytes after it are ignored, as `decode` does.
    Done(Loaded),
}

/// A resumable RDB decoder. Entries are inserted into the keyspace passed to each feed (the
/// same one every time); on error that keyspace holds a partial load and must be discarded.
pub struct StreamDecoder {
    opts: LoadOptions,
    /// `buf[start..]` is the unconsumed input; `buf[..start]` is dead space reclaimed lazily
    /// so that consuming many small entries does not move the tail each time.
    buf: Vec<u8>,
    start: usize,
    /// Absolute offset of `buf[start]` in the file.
    consumed: u64,
    crc: Crc64,
    version: Option<u32>,
    state: State,
    /// Unconsumed length required before the next attempt (doubling rule).
    retry_len: usize,
    outcome: Option<Result<Loaded, RdbError>>,
    /// Largest number of unconsumed bytes held at once.
    pub buffered_bytes_max: usize,
}

impl StreamDecoder {
    pub fn new(opts: LoadOptions) -> Self {
        StreamDecoder {
            opts,
            buf: Vec::new(),
            start: 0,
            consumed: 0,
            crc: Crc64::new(),
            version: None,
            state: State::default(),
            retry_len: 0,
            outcome: None,
            buffered_bytes_max: 0,
        }
    }

    /// Bytes held and not yet decoded.
    pub fn buffered_bytes(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Appends `bytes` and decodes entries that are whole. An incomplete entry waits for its
    /// bytes to double, so the end of the input may sit undecoded: when the input has ended
    /// (the caller's framing says so), call [`finish`](Self::finish).
    pub fn feed(&mut self, bytes: &[u8], ks: &mut Keyspace) -> Result<Progress, RdbError> {
        if let Some(outcome) = &self.outcome {
            return outcome.clone().map(Progress::Done);
        }
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
        self.buffered_bytes_max = self.buffered_bytes_max.max(self.buffered_bytes());
        if self.buffered_bytes() < self.retry_len {
            return Ok(Progress::NeedMore);
        }
        self.run(ks)
    }

    /// The input has ended: the result, or `decode`'s error for this truncated input.
    pub fn finish(&mut self, ks: &mut Keyspace) -> Result<Loaded, RdbError> {
        if self.outcome.is_none() {
            self.retry_len = 0;
            if let Ok(Progress::NeedMore) = self.run(ks) {
                // `run` stopped at an incomplete entry; attempt it once more for its error.
                return Err(self
                    .attempt(ks)
                    .expect_err("an incomplete entry stays incomplete"));
            }
        }
        self.outcome
            .clone()
            .expect("run sets the outcome or needs more")
    }

    /// Decodes whole entries until one is incomplete, the trailer, or an error.
    fn run(&mut self, ks: &mut Keyspace) -> Result<Progress, RdbError> {
        loop {
            match self.attempt(ks) {
                Ok(Some(loaded)) => {
                    self.outcome = Some(Ok(loaded.clone()));
                    return Ok(Progress::Done(loaded));
                }
                Ok(None) => {}
                Err(error) if error.incomplete => {
                    self.retry_len = self.buffered_bytes().saturating_mul(2).max(1);
                    return Ok(Progress::NeedMore);
                }
                Err(error) => {
                    self.outcome = Some(Err(error.clone()));
                    return Err(error);
                }
            }
        }
    }

    /// One entry (or the header, or the trailer) from the unconsumed bytes: consumed when
    /// whole, untouched (state and keyspace included) when incomplete.
    fn attempt(&mut self, ks: &mut Keyspace) -> Result<Option<Loaded>, RdbError> {
        let base = self.consumed;
        let mut reader = Reader {
            bytes: &self.buf[self.start..],
            pos: 0,
        };
        let rebase = |error: RdbError| rebase(error, base);
        let Some(version) = self.version else {
            self.version = Some(read_header(&mut reader).map_err(rebase)?);
            let used = reader.pos;
            self.consume(used);
            return Ok(None);
        };
        let opcode = reader.u8("an opcode or value type").map_err(rebase)?;
        if opcode != OPCODE_EOF {
            read_item(&mut reader, ks, &self.opts, &mut self.state, opcode, 0).map_err(rebase)?;
            let used = reader.pos;
            self.consume(used);
            return Ok(None);
        }
        if version >= RDB_VERSION_CHECKSUM_MIN {
            let stored = u64::from_le_bytes(reader.array("the CRC-64 trailer").map_err(rebase)?);
            let mut crc = self.crc.clone();
            crc.update(&[OPCODE_EOF]);
            let computed = crc.value();
            // 0 means the writer had `rdbchecksum no`: Redis loads without checking.
            if stored != 0 && stored != computed {
                let reason =
                    format!("Wrong RDB checksum expected: ({computed:x}) but got ({stored:x})");
                return Err(rebase(RdbError::corrupt(1, reason)));
            }
        }
        let used = reader.pos;
        self.consume(used);
        let state = std::mem::take(&mut self.state);
        Ok(Some(Loaded {
            end_offset: self.consumed,
            keys_loaded: state.keys_loaded,
            keys_expired: state.keys_expired,
            version,
            functions: state.functions,
            repl: state.repl_id.zip(state.repl_offset),
        }))
    }

    fn consume(&mut self, len: usize) {
        self.crc.update(&self.buf[self.start..self.start + len]);
        self.start += len;
        self.consumed += len as u64;
        self.retry_len = 0;
    }
}

/// An error found in the unconsumed bytes, with its offset (and the offset its reason names)
/// moved from the buffer to the file.
fn rebase(mut error: RdbError, base: u64) -> RdbError {
    let offset = error.offset + base;
    let suffix = format!(" at offset {}", error.offset);
    if let Some(head) = error.reason.strip_suffix(&suffix) {
        error.reason = format!("{head} at offset {offset}");
    }
    error.offset = offset;
    error
}
