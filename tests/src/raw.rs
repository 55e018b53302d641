//! A raw RESP connection for byte-for-byte comparisons with real Redis: commands go out as
//! arrays of bulk strings, and whatever bytes arrive until the line is quiet come back.
//!
//! Owns nothing but its socket. Invariant: every read is bounded by a timeout, so a test
//! waiting for bytes that never come fails instead of hanging.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A raw connection: sends a command, returns every byte that arrives until the line is quiet.
pub struct Raw(TcpStream);

impl Raw {
    pub fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_nodelay(true).unwrap();
        Raw(stream)
    }

    pub fn send(&mut self, words: &str) {
        let mut out = Vec::new();
        let words: Vec<&str> = words.split(' ').collect();
        out.extend_from_slice(format!("*{}\r\n", words.len()).as_bytes());
        for w in words {
            out.extend_from_slice(format!("${}\r\n{w}\r\n", w.len()).as_bytes());
        }
        self.0.write_all(&out).unwrap();
    }

    /// Bytes arriving within `wait` (stops early after 100 ms of quiet once some arrived).
    pub fn drain(&mut self, wait: Duration) -> Vec<u8> {
        let deadline = Instant::now() + wait;
        let mut got = Vec::new();
        let mut buf = [0u8; 65536];
        while Instant::now() < deadline {
            let quiet = if got.is_empty() {
                wait
            } else {
                Duration::from_millis(100)
            };
            self.0.set_read_timeout(Some(quiet)).unwrap();
            match self.0.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
                Err(e) => panic!("{e}"),
            }
        }
        got
    }

    pub fn call(&mut self, words: &str) -> Vec<u8> {
        self.send(words);
        self.drain(Duration::from_secs(5))
    }

    /// Whether the peer closed the connection (EOF) within `wait`.
    pub fn closed_within(&mut self, wait: Duration) -> bool {
        self.0.set_read_timeout(Some(wait)).unwrap();
        let mut buf = [0u8; 1024];
        matches!(self.0.read(&mut buf), Ok(0)) || matches!(self.0.read(&mut buf), Ok(0) | Err(_))
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
