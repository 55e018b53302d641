//! The master link of a replica: one non-blocking TCP connection to the master, on the event
//! loop's thread like every other socket. It only moves bytes: the engine decides when to
//! connect, what to send and when to close ([`LinkOp`]), and is told what arrived.
//!
//! Owns the socket, its generation (`link`) and its unwritten output. Invariants: every event
//! the engine hears carries the generation it opened, so the engine ignores a closed link's
//! leftovers; output is written in the order the engine sent it; a read of 0 bytes or an error
//! closes the link and is reported once.

use std::io::{self, ErrorKind, Read, Write};
use std::net::ToSocketAddrs;

use mio::net::TcpStream;
use mio::{Interest, Registry};
use model::engine::LinkOp;

use crate::accept::MASTER_LINK;
use crate::event_loop::EventLoop;
use crate::logging;

/// Bytes read from the master per `read` call.
const READ_BYTES: usize = 64 * 1024;

pub(crate) struct MasterLink {
    link: u64,
    stream: TcpStream,
    connected: bool,
    out: Vec<u8>,
}

impl MasterLink {
    fn connect(registry: &Registry, link: u64, host: &str, port: u16) -> io::Result<MasterLink> {
        // Resolution may block on DNS; masters are usually given by address, as in tests.
        let addr = (host, port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(ErrorKind::NotFound, "no address for the master"))?;
        let mut stream = TcpStream::connect(addr)?;
        let interest = Interest::READABLE | Interest::WRITABLE;
        registry.register(&mut stream, MASTER_LINK, interest)?;
        Ok(MasterLink {
            link,
            stream,
            connected: false,
            out: Vec::new(),
        })
    }

    /// Writes what the socket takes now; the rest waits for the next writable event.
    fn flush(&mut self) -> io::Result<()> {
        while self.connected && !self.out.is_empty() {
            match self.stream.write(&self.out) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl EventLoop {
    /// Carries out the engine's link operations (called while draining the engine).
    pub(crate) fn drive_link(&mut self) {
        while let Some(op) = self.engine.poll_link() {
            match op {
                LinkOp::Connect { link, host, port } => {
                    self.drop_link();
                    logging::notice(&format!("Connecting to MASTER {host}:{port}"));
                    match MasterLink::connect(self.poll.registry(), link, &host, port) {
                        Ok(master) => self.master = Some(master),
                        Err(error) => {
                            logging::warning(&format!("Unable to connect to MASTER: {error}"));
                            self.engine.handle_master_closed(self.now_ms, link);
                        }
                    }
                }
                LinkOp::Send { link, bytes } => {
                    if let Some(master) = self.master.as_mut().filter(|m| m.link == link) {
                        master.out.extend_from_slice(&bytes);
                        if master.flush().is_err() {
                            self.link_failed();
                        }
                    }
                }
                LinkOp::Close { link } => {
                    if self.master.as_ref().is_some_and(|m| m.link == link) {
                        self.drop_link();
                    }
                }
            }
        }
    }

    /// The master link's socket is ready: finish connecting, write, read.
    pub(crate) fn on_master_link(&mut self) {
        let Some(master) = self.master.as_mut() else {
            return;
        };
        let link = master.link;
        if !master.connected {
            if let Ok(Some(_)) | Err(_) = master.stream.take_error() {
                return self.link_failed();
            }
            match master.stream.peer_addr() {
                Ok(_) => {
                    master.connected = true;
                    self.engine.handle_master_connected(self.now_ms, link);
                }
                Err(e) if e.kind() == ErrorKind::NotConnected => return, // still connecting
                Err(_) => return self.link_failed(),
            }
        }
        let mut buf = vec![0u8; READ_BYTES];
        loop {
            let Some(master) = self.master.as_mut() else {
                return;
            };
            if master.flush().is_err() {
                return self.link_failed();
            }
            match master.stream.read(&mut buf) {
                Ok(0) => return self.link_failed(),
                Ok(n) => self.engine.handle_master_data(self.now_ms, link, &buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return self.link_failed(),
            }
        }
    }

    fn link_failed(&mut self) {
        if let Some(link) = self.drop_link() {
            self.engine.handle_master_closed(self.now_ms, link);
        }
    }

    fn drop_link(&mut self) -> Option<u64> {
        let mut master = self.master.take()?;
        let _ = self.poll.registry().deregister(&mut master.stream);
        Some(master.link)
    }
}
