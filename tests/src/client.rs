//! A minimal blocking RESP client for tests: send commands (pipelined or not), read replies.
//!
//! Owns one TCP connection. Invariant: every read and write is bounded by [`IO_TIMEOUT`], so a
//! test against a hung server fails instead of hanging.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::Bytes;
use model::resp::{encode_command, parse_frame, Frame};

/// Longest a test waits for one read or write.
pub const IO_TIMEOUT: Duration = Duration::from_secs(20);

pub struct RespClient {
    stream: TcpStream,
    input: Vec<u8>,
}

impl RespClient {
    pub fn connect(port: u16) -> io::Result<Self> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(RespClient {
            stream,
            input: Vec::new(),
        })
    }

    /// Writes one command without waiting for its reply (pipelining).
    pub fn send(&mut self, argv: &[&[u8]]) -> io::Result<()> {
        let argv: Vec<Bytes> = argv.iter().map(|a| Bytes::copy_from_slice(a)).collect();
        let mut out = Vec::new();
        encode_command(&argv, &mut out);
        self.stream.write_all(&out)
    }

    /// Writes raw bytes, for protocol tests.
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads the next reply. EOF before a whole reply is `UnexpectedEof`.
    pub fn read(&mut self) -> io::Result<Frame> {
        loop {
            match parse_frame(&self.input) {
                Ok(Some((frame, used))) => {
                    self.input.drain(..used);
                    return Ok(frame);
                }
                Ok(None) => {}
                Err(error) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        error.to_string(),
                    ))
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
            }
            self.input.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends one command and reads its reply.
    pub fn call(&mut self, argv: &[&[u8]]) -> io::Result<Frame> {
        self.send(argv)?;
        self.read()
    }

    /// [`RespClient::call`] with text arguments.
    pub fn call_str(&mut self, words: &[&str]) -> io::Result<Frame> {
        let argv: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        self.call(&argv)
    }
}

/// The bytes of a bulk reply, `None` for a null; anything else is a test failure.
pub fn bulk(frame: &Frame) -> Option<Bytes> {
    match frame {
        Frame::Bulk(bytes) => Some(bytes.clone()),
        Frame::Null => None,
        other => panic!("expected a bulk string or null, got {other:?}"),
    }
}

/// The value of an integer reply; anything else is a test failure.
pub fn integer(frame: &Frame) -> i64 {
    match frame {
        Frame::Integer(n) => *n,
        other => panic!("expected an integer, got {other:?}"),
    }
}

/// One field of `INFO persistence`, as text.
pub fn info_field(con: &mut RespClient, field: &str) -> String {
    let text = bulk(&con.call_str(&["INFO", "persistence"]).unwrap()).expect("INFO");
    let text = String::from_utf8_lossy(&text).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
        .unwrap_or_else(|| panic!("INFO persistence has no {field}:\n{text}"))
}

/// Runs the server's first BGREWRITEAOF (`aof_rewrites` goes 0 → 1) and waits, at most
/// `wait`, until it has finished with status ok.
pub fn first_rewrite(con: &mut RespClient, wait: Duration) {
    match con.call_str(&["BGREWRITEAOF"]).unwrap() {
        Frame::Simple(_) => {}
        other => panic!("BGREWRITEAOF: {other:?}"),
    }
    let deadline = Instant::now() + wait;
    while !(info_field(con, "aof_rewrite_in_progress") == "0"
        && info_field(con, "aof_rewrite_scheduled") == "0"
        && info_field(con, "aof_rewrites") == "1")
    {
        assert!(Instant::now() < deadline, "rewrite did not finish");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(info_field(con, "aof_last_bgrewrite_status"), "ok");
}
