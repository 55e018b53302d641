//! A replica's full-sync payload, serialised off the event loop: one thread per full sync runs
//! the engine's view serialiser (the same one BGSAVE's worker runs) into a bounded
//! [`ChunkQueue`], and the loop moves chunks into the replica's socket as it takes them.
//!
//! Owns the framing (`redis-replication-facts.md` §3): `$EOF:<mark>\r\n<rdb><mark>` for a
//! diskless sync, else `$<len>\r\n<rdb>`, whose length comes from a first, counting pass over
//! the same view (the view is immutable and the serialiser a pure function of it, so both
//! passes produce the same bytes; the second is checked against the first). Neither form holds
//! the RDB in memory: at most [`crate::chunk_queue::CHUNKS_MAX`] chunks of [`CHUNK_BYTES`]
//! wait per replica, and no temporary file is written. While the counting pass runs, a `\n`
//! goes out each second so the replica's `repl-timeout` does not fire (Redis does the same
//! while it prepares a disk payload).
//!
//! Invariant: the payload's bytes reach the queue in order, followed by exactly one
//! [`Chunk::Done`] or [`Chunk::Failed`]; a replica that disconnects ends the thread at its next
//! chunk.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use model::engine::ReplicaSync;

use crate::chunk_queue::{ChunkQueue, Gone};
use crate::io_queue::Wake;

/// Size of the chunks handed to the loop.
pub(crate) const CHUNK_BYTES: usize = 64 * 1024;
/// Keepalive period while the `$<len>` form counts its bytes.
const KEEPALIVE: Duration = Duration::from_secs(1);

pub(crate) enum Chunk {
    Data(Vec<u8>),
    Done,
    Failed(String),
}

/// The loop's end of a payload being serialised. Dropping it (the replica went away) releases
/// and ends the serialising thread.
pub(crate) struct Payload {
    queue: Arc<ChunkQueue<Chunk>>,
}

impl Payload {
    pub(crate) fn try_pop(&self) -> Option<Chunk> {
        self.queue.try_pop()
    }
}

impl Drop for Payload {
    fn drop(&mut self) {
        self.queue.close_consumer();
    }
}

/// Starts serialising `sync` on its own thread; `waker` wakes the loop at each chunk.
pub(crate) fn start<W: Wake + Send + 'static>(sync: ReplicaSync, waker: W) -> io::Result<Payload> {
    let queue = Arc::new(ChunkQueue::new());
    let producer = Arc::clone(&queue);
    std::thread::Builder::new()
        .name("durakv-repl-sync".into())
        .spawn(move || {
            let mut sink = Sink {
                queue: &producer,
                waker: &waker,
                buf: Vec::with_capacity(CHUNK_BYTES),
            };
            let end = match write_payload(&sync, &mut sink) {
                Ok(()) => Chunk::Done,
                Err(error) => Chunk::Failed(error.to_string()),
            };
            // A consumer that went away needs no end marker.
            let _ = producer.push(end, &waker);
        })?;
    Ok(Payload { queue })
}

/// Writes the framed payload of `sync` to `out`.
pub(crate) fn write_payload(sync: &ReplicaSync, out: &mut impl Write) -> io::Result<()> {
    match &sync.eof_mark {
        Some(mark) => {
            out.write_all(b"$EOF:")?;
            out.write_all(mark)?;
            out.write_all(b"\r\n")?;
            sync.view.write_to(out)?;
            out.write_all(mark)?;
        }
        None => {
            let mut counter = Counter {
                out: &mut *out,
                last: Instant::now(),
            };
            let len = sync.view.write_to(&mut counter)?;
            write!(out, "${len}\r\n")?;
            let written = sync.view.write_to(out)?;
            if written != len {
                let message = format!("the view serialised to {len} bytes, then to {written}");
                return Err(io::Error::other(message));
            }
        }
    }
    out.flush()
}

/// Gathers bytes into chunks for the queue.
struct Sink<'a, W: Wake> {
    queue: &'a ChunkQueue<Chunk>,
    waker: &'a W,
    buf: Vec<u8>,
}

impl<W: Wake> Sink<'_, W> {
    fn send(&mut self) -> io::Result<()> {
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_BYTES));
        (self.queue.push(Chunk::Data(chunk), self.waker))
            .map_err(|Gone| io::Error::new(io::ErrorKind::BrokenPipe, "replica disconnected"))
    }
}

impl<W: Wake> Write for Sink<'_, W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.send()
    }
}

/// The counting pass: swallows the bytes, sends a keepalive `\n` each second.
struct Counter<'a, O: Write> {
    out: &'a mut O,
    last: Instant,
}

impl<O: Write> Write for Counter<'_, O> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.last.elapsed() >= KEEPALIVE {
            self.last = Instant::now();
            self.out.write_all(b"\n")?;
            self.out.flush()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use model::io::{ViewFormat, ViewWriter};
    use model::keyspace::{Entry, Keyspace, Value};

    use super::*;

    fn sync(eof_mark: Option<[u8; 40]>) -> ReplicaSync {
        let mut view = Keyspace::new(16);
        let mut x = 1u64;
        for i in 0..3000 {
            // Incompressible values, so the RDB spans several chunks.
            let value: Vec<u8> = (0..100)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (x >> 56) as u8
                })
                .collect();
            let entry = Entry {
                value: Value::Str(Bytes::from(value)),
                expire_at_ms: None,
            };
            view.insert(0, Bytes::from(format!("key:{i}")), entry);
        }
        let view = ViewWriter::new(view, ViewFormat::Rdb { aof_base: false }, 0);
        ReplicaSync { view, eof_mark }
    }

    struct Nobody;
    impl Wake for Nobody {
        fn wake(&self) {}
    }

    /// Everything the thread hands over, until its end marker.
    fn collect(payload: &Payload) -> Vec<u8> {
        let mut bytes = Vec::new();
        loop {
            match payload.try_pop() {
                Some(Chunk::Data(d)) => bytes.extend(d),
                Some(Chunk::Done) => return bytes,
                Some(Chunk::Failed(e)) => panic!("{e}"),
                None => std::thread::yield_now(),
            }
        }
    }

    /// Goal: both framings as Redis sends them — `$<len>\r\n` and exactly len RDB bytes with
    /// no CRLF after, or `$EOF:<mark>\r\n`, the RDB, and the mark — through the bounded queue.
    #[test]
    fn both_framings_through_the_queue() {
        let plain = collect(&start(sync(None), Nobody).unwrap());
        let header_end = plain.iter().position(|&b| b == b'\n').unwrap() + 1;
        let header = String::from_utf8_lossy(&plain[..header_end]).into_owned();
        let len: usize = header.trim_start_matches('$').trim_end().parse().unwrap();
        assert_eq!(plain.len() - header_end, len, "{header:?}");
        assert!(plain[header_end..].starts_with(b"REDIS0010"));
        let mark = [b'a'; 40];
        let eof = collect(&start(sync(Some(mark)), Nobody).unwrap());
        assert!(eof.starts_with(b"$EOF:aaaa"));
        assert!(eof.ends_with(&mark));
        assert_eq!(
            &eof[47..eof.len() - 40],
            &plain[header_end..],
            "same RDB bytes"
        );
        assert!(len > CHUNK_BYTES * 2, "spans several chunks");
    }
}
