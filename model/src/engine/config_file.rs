//! CONFIG REWRITE: the config file the server started with, brought up to date and replaced
//! atomically (Sentinel relies on it to make a failover survive a restart).
//!
//! Owns the one rewrite in flight: read the old file, merge (`config_rewrite::render`), write
//! a temporary file beside it, fsync it, rename it over the old one, fsync the directory, then
//! answer. Invariants: `+OK` is sent only once the new file is durable under its name; a
//! failed step answers Redis's `ERR Rewriting config file: …` and leaves the old file whole
//! (a crash leaves the old file or the new one, never a mix; at worst a stray temporary);
//! the client's later requests wait behind its answer, as behind any reply.

use bytes::Bytes;

use super::clients::ClientId;
use super::config_file_types::{Rewriting, Stage};
use super::replies::Need;
use super::Engine;
use crate::config_rewrite::{is_alias, render, Setting};
use crate::io::{IoResult, Lane, Op, Owner};
use crate::resp::Frame;

/// Read the old file in pieces of this size.
const READ_CHUNK: u64 = 1 << 20;

/// Whether `argv` is `CONFIG REWRITE`.
pub(super) fn is_rewrite(argv: &[Bytes]) -> bool {
    argv.len() == 2 && argv[1].eq_ignore_ascii_case(b"REWRITE")
}

impl Engine {
    /// CONFIG REWRITE as a client's own command: answered now or when done; `false` for
    /// every other CONFIG subcommand.
    pub(super) fn config_rewrite_request(&mut self, client: ClientId, argv: &[Bytes]) -> bool {
        if !is_rewrite(argv) {
            return false;
        }
        if let Some(frame) = self.start_config_rewrite(client) {
            self.answer(client, frame, Need::Nothing);
        }
        true
    }

    /// CONFIG REWRITE inside EXEC started (`slot` of `replies`): the EXEC's answer waits for it.
    pub(super) fn defer_exec_reply(&mut self, replies: Vec<Frame>, slot: usize) {
        let rewriting = self
            .config_rewrite
            .as_mut()
            .expect("a rewrite started in this EXEC");
        rewriting.exec_reply = Some((replies, slot));
    }

    /// CONFIG REWRITE: `Some` is the answer now (no config file, one already running);
    /// `None` when the rewrite started and answers when done.
    pub(super) fn start_config_rewrite(&mut self, client: ClientId) -> Option<Frame> {
        let Some(path) = self.config.config_file.clone() else {
            return Some(Frame::error(
                "ERR The server is running without a config file",
            ));
        };
        if self.config_rewrite.is_some() {
            return Some(Frame::error("ERR a CONFIG REWRITE is already running"));
        }
        let rewriting = Rewriting::new(client, path);
        self.emit_config_read(&rewriting);
        self.config_rewrite = Some(rewriting);
        None
    }

    /// Whether `client` waits for its CONFIG REWRITE (its later requests are held).
    pub(super) fn is_rewriting_config(&self, client: ClientId) -> bool {
        self.config_rewrite
            .as_ref()
            .is_some_and(|r| r.client == client)
    }

    fn emit_config_read(&mut self, rewriting: &Rewriting) {
        let op = Op::Read {
            path: rewriting.path.clone(),
            offset: rewriting.old.len() as u64,
            len_max: READ_CHUNK,
        };
        self.out.emit(Owner::ConfigFile, Lane::Log, op);
    }

    /// A step of the rewrite completed.
    pub(super) fn on_config_file_io(&mut self, now_ms: u64, result: IoResult) {
        if self.config_cleanups > 0 {
            // A lane completes in order: the deletes emitted before any later rewrite's read.
            self.config_cleanups -= 1;
            return;
        }
        let mut r = self
            .config_rewrite
            .take()
            .expect("a config rewrite step completed");
        let next = match (&r.stage, result) {
            (_, IoResult::Failed(e)) => return self.end_config_rewrite(now_ms, r, Err(e.message)),
            (Stage::Read, IoResult::Read { bytes, eof }) => {
                r.old.extend_from_slice(&bytes);
                if !eof {
                    self.emit_config_read(&r);
                    self.config_rewrite = Some(r);
                    return;
                }
                Stage::Create
            }
            // No file yet (deleted since start): the rewrite creates it, as Redis does.
            (Stage::Read, IoResult::NotFound) => Stage::Create,
            (Stage::Create, _) => Stage::Append,
            (Stage::Append, _) => Stage::Fsync,
            (Stage::Fsync, _) => Stage::Rename,
            (Stage::Rename, _) => Stage::FsyncDir,
            (Stage::FsyncDir, _) => return self.end_config_rewrite(now_ms, r, Ok(())),
            (stage, other) => unreachable!("{stage:?} answered with {other:?}"),
        };
        let op = match next {
            Stage::Create => Op::Create { path: r.temp() },
            Stage::Append => Op::Append {
                path: r.temp(),
                bytes: Bytes::from(self.config_file_text(&r.old)),
            },
            Stage::Fsync => Op::Fsync { path: r.temp() },
            Stage::Rename => Op::Rename {
                from: r.temp(),
                to: r.path.clone(),
            },
            Stage::FsyncDir => Op::FsyncDir { path: r.parent() },
            Stage::Read => unreachable!("reading is the first stage only"),
        };
        r.stage = next;
        self.out.emit(Owner::ConfigFile, Lane::Log, op);
        self.config_rewrite = Some(r);
    }

    /// The new text: every setting the engine and the runtime own, against its default.
    fn config_file_text(&self, old: &[u8]) -> String {
        let mut current = self.config.settings();
        // The master followed now (REPLICAOF changes it at run time; Sentinel rewrites after).
        let master = self.replica.master.as_ref();
        current.push((
            "replicaof".to_string(),
            master.map_or(String::new(), |(host, port)| format!("{host} {port}")),
        ));
        let mut defaults = crate::config::Config::default().settings();
        defaults.extend(self.config.runtime_defaults.iter().cloned());
        defaults.push(("replicaof".to_string(), String::new()));
        let settings: Vec<Setting<'_>> = current
            .iter()
            .filter(|(name, _)| !is_alias(name))
            .map(|(name, value)| Setting {
                name,
                value,
                default: defaults
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.as_str()),
            })
            .collect();
        render(&String::from_utf8_lossy(old), &settings)
    }

    fn end_config_rewrite(&mut self, now_ms: u64, r: Rewriting, result: Result<(), String>) {
        let frame = match result {
            Ok(()) => Frame::ok(),
            Err(message) => {
                if matches!(r.stage, Stage::Append | Stage::Fsync | Stage::Rename) {
                    // The temporary is the only thing written: the old file is untouched.
                    let op = Op::Delete { path: r.temp() };
                    self.out.emit(Owner::ConfigFile, Lane::Log, op);
                    self.config_cleanups += 1;
                }
                Frame::error(format!("ERR Rewriting config file: {message}"))
            }
        };
        let frame = match r.exec_reply {
            Some((mut replies, slot)) => {
                replies[slot] = frame;
                Frame::Array(replies)
            }
            None => frame,
        };
        self.answer(r.client, frame, Need::Nothing);
        self.release_held(now_ms, r.client);
    }
}
