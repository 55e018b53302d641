//! One client connection: reads and parses RESP requests, sends them to the driver, and writes
//! the replies the driver sends back, encoded here so parsing and encoding scale over cores.
//!
//! Owns the socket, its buffers, name resolution of each request (the command index's
//! [`model::command::resolve`], done here so it runs beside parsing, off the engine's thread) and
//! QUIT (the index's only connection command).
//! Invariants:
//! - replies are written in request order: the driver answers in order, and a reply made here
//!   (QUIT's `+OK`, a protocol error) waits until every earlier request was answered;
//! - memory is bounded: at most `IN_FLIGHT_COUNT_MAX` requests are unanswered (reading stops
//!   until replies come back), which also bounds the reply channel, and the unparsed input is
//!   bounded by the parser's query-buffer limit;
//! - bad input never panics: a protocol error is answered as Redis does, then the connection
//!   closes after the replies before it.

use std::io;

use bytes::{Buf, Bytes, BytesMut};
use model::command::{self, CommandId, Run};
use model::engine::{ClientAddr, ClientId, Reply};
use model::resp::{parse_command, Frame, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::driver::Request;

/// Requests sent to the driver and not yet answered, per connection. Pipelines deeper than
/// this are read as replies drain, as TCP flow control would pace them anyway. Every message
/// on the reply channel answers at least one of them, so the channel never holds more.
pub(crate) const IN_FLIGHT_COUNT_MAX: usize = 1024;
/// Encoded replies gathered before a write(2).
const OUTPUT_FLUSH_BYTES: usize = 64 * 1024;
/// Room kept free in the input buffer before each read.
const READ_RESERVE_BYTES: usize = 16 * 1024;

/// When buffered input should be parsed again.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Resume {
    /// Nothing buffered is waiting: parse after the next read.
    AfterRead,
    /// Stopped at the in-flight cap: parse when a reply comes back.
    BelowLimit,
    /// QUIT's reply must follow earlier replies: parse when all are answered.
    WhenIdle,
}

pub(crate) struct Connection {
    client: ClientId,
    stream: TcpStream,
    requests: mpsc::Sender<Request>,
    replies: mpsc::Receiver<Vec<Reply>>,
    input: BytesMut,
    /// Requests parsed from one read, each with its command resolved, sent to the driver as
    /// one message.
    batch: Vec<(Option<CommandId>, Vec<Bytes>)>,
    output: Vec<u8>,
    in_flight: usize,
    resume: Resume,
    /// `Some(last)`: stop reading, answer what is in flight, write `last` (if any), close.
    closing: Option<Option<Frame>>,
    /// CLIENT KILL reached us: write what came before it, then close at once.
    killed: bool,
    limits: Limits,
}

impl Connection {
    /// A connection whose replies arrive on `replies`; [`Connection::run`] registers it.
    pub(crate) fn new(
        client: ClientId,
        stream: TcpStream,
        requests: mpsc::Sender<Request>,
        replies: mpsc::Receiver<Vec<Reply>>,
    ) -> Self {
        Connection {
            client,
            stream,
            requests,
            replies,
            input: BytesMut::with_capacity(READ_RESERVE_BYTES),
            batch: Vec::new(),
            output: Vec::new(),
            in_flight: 0,
            resume: Resume::AfterRead,
            closing: None,
            killed: false,
            limits: Limits::default(),
        }
    }

    /// Serves the connection until either side closes, then tells the driver.
    pub(crate) async fn run(mut self, replies: mpsc::Sender<Vec<Reply>>) {
        let addr = ClientAddr {
            addr: self
                .stream
                .peer_addr()
                .map_or_else(|_| String::new(), |a| a.to_string()),
            laddr: (self.stream.local_addr()).map_or_else(|_| String::new(), |a| a.to_string()),
            fd: raw_fd(&self.stream),
        };
        let open = Request::Open {
            client: self.client,
            addr,
            replies,
        };
        if self.requests.send(open).await.is_ok() {
            // An error here is the peer going away or the server stopping: nothing to report.
            let _ = self.serve().await;
        }
        let _ = self
            .requests
            .send(Request::Closed {
                client: self.client,
            })
            .await;
    }

    async fn serve(&mut self) -> io::Result<()> {
        loop {
            if self.should_parse() {
                self.process_input().await?;
            }
            if self.closing.is_some() && self.in_flight == 0 {
                return self.finish().await;
            }
            let reading = self.closing.is_none() && self.in_flight < IN_FLIGHT_COUNT_MAX;
            self.input.reserve(READ_RESERVE_BYTES);
            tokio::select! {
                replies = self.replies.recv() => match replies {
                    Some(frames) => {
                        self.on_replies(frames).await?;
                        if self.killed {
                            return self.stream.shutdown().await;
                        }
                    }
                    // The driver dropped us: output limit reached, or the server is stopping.
                    None => return self.stream.flush().await,
                },
                read = self.stream.read_buf(&mut self.input), if reading => {
                    if read? == 0 {
                        // The peer finished sending: answer what it sent, then close.
                        self.closing = Some(None);
                    } else {
                        self.resume = Resume::AfterRead;
                        self.process_input().await?;
                    }
                }
            }
        }
    }

    fn should_parse(&self) -> bool {
        match self.resume {
            Resume::AfterRead => false,
            Resume::BelowLimit => self.in_flight < IN_FLIGHT_COUNT_MAX,
            Resume::WhenIdle => self.in_flight == 0,
        }
    }

    /// Encodes `first` and every reply already queued, then writes them.
    async fn on_replies(&mut self, first: Vec<Reply>) -> io::Result<()> {
        self.encode(first);
        while self.output.len() < OUTPUT_FLUSH_BYTES && !self.killed {
            let Ok(frames) = self.replies.try_recv() else {
                break;
            };
            self.encode(frames);
        }
        self.flush().await
    }

    /// Encodes each reply in the protocol the engine attached when its command ran.
    fn encode(&mut self, replies: Vec<Reply>) {
        for reply in replies {
            match reply {
                Reply::Frame { frame, proto } => frame.encode_in(proto, &mut self.output),
                Reply::Silent => {}
                Reply::Push { frame, proto } => {
                    // A Pub/Sub message answers no request of this connection.
                    frame.encode_in(proto, &mut self.output);
                    continue;
                }
                Reply::Close => {
                    // Nothing after a close is written: the engine sends nothing more anyway.
                    self.killed = true;
                    return;
                }
            }
            self.in_flight = self.in_flight.saturating_sub(1);
        }
    }

    /// Parses and dispatches every whole request buffered, as far as the limits allow.
    async fn process_input(&mut self) -> io::Result<()> {
        self.resume = Resume::AfterRead;
        while self.closing.is_none() {
            if self.in_flight >= IN_FLIGHT_COUNT_MAX {
                self.resume = Resume::BelowLimit;
                break;
            }
            let argv = match parse_command(&self.input, &self.limits) {
                Ok(None) => break,
                Ok(Some((argv, consumed))) if argv.is_empty() => {
                    self.input.advance(consumed);
                    continue;
                }
                Ok(Some((argv, consumed))) => (argv, consumed),
                Err(error) => {
                    // The stream cannot be resynchronised: answer (if Redis does) and close.
                    self.input.clear();
                    self.closing = Some(error.reply());
                    break;
                }
            };
            if !self.dispatch(argv) {
                self.resume = Resume::WhenIdle;
                break;
            }
        }
        self.send_batch().await?;
        self.flush().await
    }

    /// Handles one parsed request; `false` if it must wait for earlier replies (not consumed).
    fn dispatch(&mut self, (argv, consumed): (Vec<Bytes>, usize)) -> bool {
        // The name is resolved here, once, off the engine's thread; the id travels with it.
        let id = command::resolve(&argv[0]);
        let quit = id.is_some_and(|id| matches!(command::entry(id).run, Run::Connection));
        // In flight counts the batch not yet sent too: QUIT waits for all of it.
        if quit && self.in_flight > 0 {
            return false;
        }
        self.input.advance(consumed);
        if quit {
            self.closing = Some(Some(Frame::ok()));
        } else {
            self.in_flight += 1;
            self.batch.push((id, argv));
        }
        true
    }

    /// Hands the requests parsed so far to the driver in one message: one channel operation
    /// and one wake-up per read, not per command.
    async fn send_batch(&mut self) -> io::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let commands = std::mem::take(&mut self.batch);
        let request = Request::Commands {
            client: self.client,
            commands,
        };
        let sent = self.requests.send(request).await;
        sent.map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }

    async fn flush(&mut self) -> io::Result<()> {
        if !self.output.is_empty() {
            self.stream.write_all(&self.output).await?;
            self.output.clear();
        }
        Ok(())
    }

    /// Writes the closing reply, if any, and shuts the socket down.
    async fn finish(&mut self) -> io::Result<()> {
        if let Some(Some(last)) = self.closing.take() {
            last.encode(&mut self.output);
        }
        self.flush().await?;
        self.stream.shutdown().await
    }
}

#[cfg(unix)]
fn raw_fd(stream: &TcpStream) -> i64 {
    use std::os::fd::AsRawFd;
    i64::from(stream.as_raw_fd())
}

#[cfg(not(unix))]
fn raw_fd(_stream: &TcpStream) -> i64 {
    -1
}
