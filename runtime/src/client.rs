//! One client connection as the event loop sees it: the socket, its input and output buffers,
//! RESP parsing of requests and encoding of the replies the engine releases.
//!
//! Owns the socket and its buffers; the loop ([`crate::event_loop`]) owns the engine and calls
//! in here with a sink that hands each parsed request straight to the engine (no queue, no
//! other thread). QUIT (the command index's only connection command) is answered here.
//! Invariants:
//! - replies are written in request order: the engine releases them in order, and a reply made
//!   here (QUIT's `+OK`, a protocol error) waits until every earlier request was answered;
//! - memory is bounded: at most [`IN_FLIGHT_COUNT_MAX`] requests are unanswered, reading stops
//!   while the socket refuses output (the client is not reading its replies), unwritten output
//!   beyond [`OUTPUT_BYTES_MAX`] closes the connection (Redis's client output buffer limit;
//!   a replica's, [`REPLICA_OUTPUT_BYTES_MAX`]), and
//!   the unparsed input is bounded by the parser's query-buffer limit;
//! - bad input never panics: a protocol error is answered as Redis does, then the connection
//!   closes after the replies before it;
//! - a replica's full-sync payload goes out whole and in order between what was released
//!   before it and what was released after it (held in `after_payload` meanwhile), pulled
//!   from its serialising thread only as fast as the socket takes it.

use std::io::{self, ErrorKind, Read, Write};

use bytes::Bytes;
use mio::net::TcpStream;
use model::command::{self, BusyAnswer, CommandId, Run};
use model::engine::{ClientAddr, ClientId, Reply};
use model::resp::{parse_command, Frame, Limits, Protocol};

use crate::repl_stream::{Chunk, Payload, CHUNK_BYTES};

/// Requests handed to the engine and not yet answered, per connection. Pipelines deeper than
/// this are read as replies drain, as TCP flow control would pace them anyway.
pub(crate) const IN_FLIGHT_COUNT_MAX: usize = 1024;
/// Unwritten output a client may hold (its socket refusing more) before it is disconnected.
pub(crate) const OUTPUT_BYTES_MAX: usize = 1 << 30;
/// The same for a replica (Redis's `client-output-buffer-limit replica 256mb`): a replica that
/// falls this far behind the stream is dropped and comes back with PSYNC.
pub(crate) const REPLICA_OUTPUT_BYTES_MAX: usize = 256 << 20;
/// Room kept free in the input buffer before each read.
const READ_RESERVE_BYTES: usize = 16 * 1024;
/// Capacity an idle buffer may keep; beyond it the buffer is shrunk once emptied.
const BUFFER_KEEP_BYTES: usize = 64 * 1024;

/// When buffered input should be parsed again.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Resume {
    /// Nothing buffered is waiting: parse after the next read.
    AfterRead,
    /// Stopped at the in-flight cap: parse when a reply comes back.
    BelowLimit,
    /// QUIT's reply must follow earlier replies: parse when all are answered.
    WhenIdle,
}

/// What the loop should do with a client after serving it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Status {
    /// Keep it; `writable` says whether it waits for the socket to take more output.
    Open { writable: bool },
    /// Done or broken: deregister, tell the engine, drop.
    Close,
}

pub(crate) struct Client {
    pub(crate) id: ClientId,
    pub(crate) stream: TcpStream,
    /// `input[start..end]` is unparsed; the rest is initialised room for the next read.
    input: Vec<u8>,
    start: usize,
    end: usize,
    output: Vec<u8>,
    /// Bytes of `output` already written.
    written: usize,
    in_flight: usize,
    resume: Resume,
    /// The socket may hold more input: reading stopped before it said `WouldBlock`.
    readable: bool,
    /// `Some(last)`: stop reading, answer what is in flight, write `last` (if any), close.
    closing: Option<Option<Frame>>,
    /// CLIENT KILL reached us: write what came before it, then close at once.
    killed: bool,
    /// The socket said `WouldBlock` to output: the loop registered interest in writability.
    pub(crate) waits_writable: bool,
    limits: Limits,
    /// A full-sync payload being streamed; `after_payload` holds what was released after it.
    payload: Option<Payload>,
    after_payload: Vec<u8>,
    /// The payload's last byte was queued for the socket (taken by the loop).
    payload_sent: bool,
    /// The engine sent it replication bytes: it is a replica, with a replica's output limit.
    replica: bool,
    /// The name the last request used and what it resolved to: a pipeline repeats one
    /// command, and comparing a few bytes is cheaper than the index's binary search
    /// (`command::resolve` is a pure function of the bytes, so the memo is never stale).
    last_name: Option<(Bytes, Option<CommandId>)>,
}

impl Client {
    pub(crate) fn new(id: ClientId, stream: TcpStream) -> Self {
        Client {
            id,
            stream,
            input: vec![0; READ_RESERVE_BYTES],
            start: 0,
            end: 0,
            output: Vec::new(),
            written: 0,
            in_flight: 0,
            resume: Resume::AfterRead,
            readable: true,
            closing: None,
            killed: false,
            waits_writable: false,
            limits: Limits::default(),
            payload: None,
            after_payload: Vec::new(),
            payload_sent: false,
            replica: false,
            last_name: None,
        }
    }

    /// The addresses CLIENT LIST shows.
    pub(crate) fn addr(&self) -> ClientAddr {
        use std::os::fd::AsRawFd;
        let text = |a: io::Result<std::net::SocketAddr>| {
            a.map_or_else(|_| String::new(), |a| a.to_string())
        };
        ClientAddr {
            addr: text(self.stream.peer_addr()),
            laddr: text(self.stream.local_addr()),
            fd: i64::from(self.stream.as_raw_fd()),
        }
    }

    /// The poller reported the socket: it may hold input.
    pub(crate) fn note_readable(&mut self) {
        self.readable = true;
    }

    /// Parses what is buffered if a reply unblocked it, then reads on if the socket may hold
    /// more and the limits allow.
    pub(crate) fn serve_input(
        &mut self,
        sink: &mut impl FnMut(Option<CommandId>, Vec<Bytes>),
    ) -> io::Result<()> {
        if self.should_parse() {
            self.process_input(sink);
        }
        while self.readable && self.may_read() {
            self.make_room();
            match self.stream.read(&mut self.input[self.end..]) {
                Ok(0) => {
                    // The peer finished sending: answer what it sent, then close.
                    self.readable = false;
                    self.closing.get_or_insert(None);
                }
                Ok(n) => {
                    // A short read emptied the socket: data arriving later is a new edge, so
                    // the `WouldBlock` read that would confirm it is one syscall saved.
                    self.readable = n == self.input.len() - self.end;
                    self.end += n;
                    self.process_input(sink);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => self.readable = false,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reading goes on only while requests can be taken and the client reads its replies.
    fn may_read(&self) -> bool {
        self.closing.is_none()
            && self.resume == Resume::AfterRead
            && self.in_flight < IN_FLIGHT_COUNT_MAX
            && !self.waits_writable
    }

    fn should_parse(&self) -> bool {
        match self.resume {
            Resume::AfterRead => false,
            Resume::BelowLimit => self.in_flight < IN_FLIGHT_COUNT_MAX,
            Resume::WhenIdle => self.in_flight == 0,
        }
    }

    /// Room for one more read after the unparsed bytes: compact, or grow when a request in
    /// progress is larger than the buffer.
    fn make_room(&mut self) {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
            if self.input.len() > BUFFER_KEEP_BYTES {
                // Likewise for one large request.
                self.input.truncate(READ_RESERVE_BYTES);
                self.input.shrink_to_fit();
            }
        }
        if self.input.len() - self.end >= READ_RESERVE_BYTES / 2 {
            return;
        }
        if self.start > 0 {
            self.input.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        if self.input.len() - self.end < READ_RESERVE_BYTES / 2 {
            self.input.resize(self.end + READ_RESERVE_BYTES, 0);
        }
    }

    /// Parses and dispatches every whole request buffered, as far as the limits allow.
    fn process_input(&mut self, sink: &mut impl FnMut(Option<CommandId>, Vec<Bytes>)) {
        self.resume = Resume::AfterRead;
        while self.closing.is_none() {
            if self.in_flight >= IN_FLIGHT_COUNT_MAX {
                self.resume = Resume::BelowLimit;
                break;
            }
            let (argv, consumed) =
                match parse_command(&self.input[self.start..self.end], &self.limits) {
                    Ok(None) => break,
                    Ok(Some(parsed)) => parsed,
                    Err(error) => {
                        // The stream cannot be resynchronised: answer (if Redis does) and close.
                        (self.start, self.end) = (0, 0);
                        self.closing = Some(error.reply());
                        break;
                    }
                };
            if argv.is_empty() {
                self.start += consumed;
                continue;
            }
            // The name is resolved once, here; the id travels with the request.
            let id = self.resolve(&argv[0]);
            let quit = id.is_some_and(|id| matches!(command::entry(id).run, Run::Connection));
            if quit && self.in_flight > 0 {
                self.resume = Resume::WhenIdle;
                break;
            }
            self.start += consumed;
            if quit {
                self.closing = Some(Some(Frame::ok()));
            } else {
                self.in_flight += 1;
                sink(id, argv);
            }
        }
    }

    /// [`command::resolve`], memoised for the last name seen on this connection.
    fn resolve(&mut self, name: &Bytes) -> Option<CommandId> {
        match &self.last_name {
            Some((last, id)) if last == name => *id,
            _ => {
                let id = command::resolve(name);
                // A copy, not a clone: a clone would share the read buffer the name was cut
                // from and keep a large request's bytes alive for as long as the memo lives.
                // Misses are rare in a pipeline, so the copy costs nothing measurable.
                self.last_name = Some((Bytes::copy_from_slice(name), id));
                id
            }
        }
    }

    /// While a script is busy (`crate::busy`): reads and answers requests as the engine's gate
    /// says, without the engine. Only a connection with nothing in flight is served, so a
    /// reply made here never overtakes one the engine still holds; a request the gate leaves
    /// for later stops this connection until the script ended.
    pub(crate) fn serve_busy(
        &mut self,
        answer: &mut dyn FnMut(Option<CommandId>, &[Bytes]) -> BusyAnswer,
    ) -> io::Result<()> {
        if self.in_flight > 0 || self.resume != Resume::AfterRead || self.payload.is_some() {
            return Ok(());
        }
        while self.busy_parse(answer) && self.readable && self.may_read() {
            self.make_room();
            match self.stream.read(&mut self.input[self.end..]) {
                Ok(0) => {
                    self.readable = false;
                    self.closing.get_or_insert(None);
                }
                Ok(n) => {
                    self.readable = n == self.input.len() - self.end;
                    self.end += n;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => self.readable = false,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Answers the whole requests buffered; `false` once one must wait for the script's end
    /// (or the input is malformed: the usual path answers that).
    fn busy_parse(
        &mut self,
        answer: &mut dyn FnMut(Option<CommandId>, &[Bytes]) -> BusyAnswer,
    ) -> bool {
        while self.closing.is_none() {
            let parsed = parse_command(&self.input[self.start..self.end], &self.limits);
            let (argv, consumed) = match parsed {
                Ok(None) => return true,
                Ok(Some(parsed)) => parsed,
                Err(_) => break,
            };
            if !argv.is_empty() {
                match answer(command::resolve(&argv[0]), &argv) {
                    BusyAnswer::Later => break,
                    // Errors and +OK read the same in RESP2 and RESP3.
                    BusyAnswer::Reply(frame) => frame.encode_in(Protocol::Resp2, &mut self.output),
                    BusyAnswer::Nothing => {}
                }
            }
            self.start += consumed;
        }
        // Parsed again by the usual path once the script ended.
        self.resume = Resume::BelowLimit;
        false
    }

    /// Encodes one reply the engine released, in the protocol attached to it.
    pub(crate) fn push_reply(&mut self, reply: Reply) {
        if self.killed {
            // Nothing after a close is written: the engine sends nothing more anyway.
            return;
        }
        // Behind a payload being streamed, output waits for the payload's end.
        let out = match self.payload {
            Some(_) => &mut self.after_payload,
            None => &mut self.output,
        };
        match reply {
            Reply::Frame { frame, proto } => frame.encode_in(proto, out),
            Reply::Silent => {}
            Reply::Push { frame, proto } => {
                // A Pub/Sub message answers no request of this connection.
                frame.encode_in(proto, out);
                return;
            }
            Reply::Raw(bytes) => {
                // Replication stream bytes answer no request either.
                out.extend_from_slice(&bytes);
                self.replica = true;
                return;
            }
            Reply::Sync(_) => unreachable!("the loop starts payloads with `start_payload`"),
            Reply::Close => {
                self.killed = true;
                return;
            }
        }
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// A full-sync payload follows what was released so far.
    pub(crate) fn start_payload(&mut self, payload: Payload) {
        assert!(
            self.payload.is_none(),
            "one full sync at a time per replica"
        );
        self.payload = Some(payload);
        self.replica = true;
    }

    pub(crate) fn has_payload(&self) -> bool {
        self.payload.is_some()
    }

    /// Whether the payload's last byte was queued since the last call.
    pub(crate) fn take_payload_sent(&mut self) -> bool {
        std::mem::take(&mut self.payload_sent)
    }

    /// Moves the payload's next chunks into the output once it is written; `Err` if the
    /// serialiser failed. `Ok(true)` when something was added.
    fn pull_payload(&mut self) -> Result<bool, ()> {
        let Some(payload) = &self.payload else {
            return Ok(false);
        };
        let mut pulled = false;
        while self.output.len() < 4 * CHUNK_BYTES {
            match payload.try_pop() {
                Some(Chunk::Data(bytes)) if self.output.is_empty() => self.output = bytes,
                Some(Chunk::Data(bytes)) => self.output.extend_from_slice(&bytes),
                Some(Chunk::Done) => {
                    self.payload = None;
                    self.output.append(&mut self.after_payload);
                    self.payload_sent = true;
                    return Ok(true);
                }
                Some(Chunk::Failed(error)) => {
                    crate::logging::warning(&format!(
                        "Full sync of client id={} failed: {error}",
                        self.id
                    ));
                    return Err(());
                }
                None => break,
            }
            pulled = true;
        }
        Ok(pulled)
    }

    /// Writes what it can of the output, closes when done; says what the loop should do next.
    pub(crate) fn flush(&mut self) -> Status {
        if self.closing.is_some() && self.in_flight == 0 && !self.killed {
            if let Some(Some(last)) = self.closing.replace(None) {
                last.encode(&mut self.output);
            }
        }
        let mut result = self.write_output();
        while matches!(result, Ok(true)) {
            match self.pull_payload() {
                Err(()) => return Status::Close,
                Ok(true) => result = self.write_output(),
                Ok(false) => break,
            }
        }
        if self.payload.is_some() && matches!(result, Ok(true)) {
            // The serialiser is behind the socket: its next chunk wakes the loop.
            return Status::Open { writable: false };
        }
        match result {
            Err(_) => return Status::Close,
            Ok(false) if self.output.len() - self.written > self.output_bytes_max() => {
                crate::logging::warning(&format!(
                    "Client id={} closed for overcoming of output buffer limits.",
                    self.id
                ));
                return Status::Close;
            }
            Ok(false) => return Status::Open { writable: true },
            Ok(true) => {}
        }
        let done = self.killed || (self.closing.is_some() && self.in_flight == 0);
        if done {
            let _ = self.stream.shutdown(std::net::Shutdown::Write);
            return Status::Close;
        }
        Status::Open { writable: false }
    }

    /// Whether a reply may have unblocked parsing (the caller then serves the input again).
    pub(crate) fn wants_input(&self) -> bool {
        !self.killed && (self.should_parse() || (self.readable && self.may_read()))
    }

    /// `Ok(true)` when everything is written, `Ok(false)` when the socket is full.
    fn write_output(&mut self) -> io::Result<bool> {
        while self.written < self.output.len() {
            match self.stream.write(&self.output[self.written..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.waits_writable = true;
                    return Ok(false);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.output.clear();
        if self.output.capacity() > BUFFER_KEEP_BYTES {
            // One large reply (KEYS, a big GET) must not pin its size for the client's life.
            self.output.shrink_to(BUFFER_KEEP_BYTES);
        }
        self.written = 0;
        self.waits_writable = false;
        Ok(true)
    }

    fn output_bytes_max(&self) -> usize {
        match self.replica {
            true => REPLICA_OUTPUT_BYTES_MAX,
            false => OUTPUT_BYTES_MAX,
        }
    }

    /// Whether output is waiting for the socket.
    pub(crate) fn has_output(&self) -> bool {
        self.written < self.output.len()
    }
}
