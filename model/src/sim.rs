//! SimDisk: the disk as a pure specification, for the model checker and conformance tests.
//!
//! This file owns the media assumptions and what each [`Op`] does to the disk (as a correct
//! POSIX file system, or as a failing disk), and is the public face of `sim`: it re-exports
//! the disk ([`SimDisk`], [`Tears`]) from `sim/state.rs` and the crash outcomes ([`Crash`],
//! [`Keep`], [`Surviving`]) from `sim/crash.rs`. Layering: `state.rs` is a leaf; `crash.rs`
//! imports only `state.rs`; this file imports both.
//!
//! Media assumptions (stated, not hoped for):
//! - each file has `written` bytes (what reads see) and `durable` bytes (what survives any
//!   crash); `fsync(file)` makes `written` durable;
//! - creates, renames, unlinks and mkdirs are *pending* until an `fsync` of a directory they
//!   touch; pending operations become durable in order (a journal): fsyncing a directory makes
//!   durable every pending operation up to the last one touching that directory;
//! - a crash keeps the durable state, plus any prefix of the pending directory operations, plus
//!   per file any prefix of its un-synced appended bytes (torn at any byte), optionally followed
//!   by zeros up to the written length (the zero-filled tail seen after real power losses);
//!   a file whose un-synced change is not an append (truncate, recreate) keeps either version;
//! - a rename is atomic; fsync and directory fsync never lie.
//!
//! A lying disk (for the model checker's weak-disk configurations) relaxes these, each
//! separately: [`Metadata::PerDirectory`] makes a directory fsync cover only its own
//! directory's operations (a crash keeps any prefix per directory); [`SimDisk::damage`]
//! flips a bit or writes garbage over synced bytes; [`SimDisk::misdirect`] acknowledges an
//! append whose bytes landed over another file's synced data.
//!
//! Invariant kept by every operation here: `live` is always `durable` with every pending
//! operation applied; only `fsync` (file bytes) and a directory fsync (pending operations, in
//! order) make anything durable.

use bytes::Bytes;

use crate::io::{IoError, IoResult, Op};

mod crash;
mod state;

pub use crash::{Crash, FateTree, FileFate, Keep, Surviving};
use state::PendingOp;
use state::{parent, Data, DirOp, Node};
pub use state::{Metadata, SimDisk, Tears};

/// Media damage to synced bytes (a lying disk; see [`SimDisk::damage`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Damage {
    /// The lowest bit of one byte flips (a digit becomes another digit: the silent kind).
    Flip,
    /// [`GARBAGE_LEN`] bytes from the offset (fewer at the end of the file) become 0xA5.
    Garbage,
}

/// How many bytes a garbage fault overwrites (a sector, scaled to the model's tiny files).
pub const GARBAGE_LEN: u64 = 8;

fn fail(kind: &str, message: &str) -> IoResult {
    IoResult::Failed(IoError {
        kind: kind.to_string(),
        message: message.to_string(),
    })
}

impl SimDisk {
    pub fn new() -> SimDisk {
        SimDisk::default()
    }

    /// An empty disk whose directory operations become durable as `metadata` says.
    pub fn with_metadata(metadata: Metadata) -> SimDisk {
        SimDisk {
            metadata,
            ..SimDisk::default()
        }
    }

    /// Performs one operation as a correct POSIX file system would.
    pub fn execute(&mut self, op: &Op) -> IoResult {
        match op {
            Op::Read {
                path,
                offset,
                len_max,
            } => self.read(path, *offset, *len_max),
            Op::List { path } => self.list(path),
            Op::CreateDir { path } => self.mkdir(path),
            Op::Create { path } => self.create(path),
            Op::Append { path, bytes } => self.append(path, bytes),
            Op::Fsync { path } => self.fsync(path),
            Op::FsyncDir { path } => self.fsync_dir(path),
            Op::Rename { from, to } => self.rename(from, to),
            Op::Delete { path } => self.unlink(path),
            Op::Truncate { path, len } => self.truncate(path, *len),
            Op::WriteView { path, view } => {
                let mut bytes = Vec::new();
                view.write_to(&mut bytes)
                    .expect("writing to a Vec cannot fail");
                match self.create(path) {
                    IoResult::Done => match self.append(path, &bytes) {
                        IoResult::Done => IoResult::Written {
                            len: bytes.len() as u64,
                        },
                        other => other,
                    },
                    other => other,
                }
            }
        }
    }

    fn dir_exists(&self, path: &str) -> bool {
        path.is_empty() || self.live.get(path) == Some(&Node::Dir)
    }

    fn read(&self, path: &str, offset: u64, len_max: u64) -> IoResult {
        let Some(inode) = self.inode(path) else {
            return IoResult::NotFound;
        };
        let written = &self.data[&inode].written;
        let start = (offset as usize).min(written.len());
        let end = (start as u64)
            .saturating_add(len_max)
            .min(written.len() as u64) as usize;
        IoResult::Read {
            bytes: Bytes::copy_from_slice(&written[start..end]),
            eof: end == written.len(),
        }
    }

    fn list(&self, dir: &str) -> IoResult {
        if !self.dir_exists(dir) {
            return IoResult::NotFound;
        }
        let names = self
            .live
            .keys()
            .filter(|p| parent(p) == dir && p.as_str() != dir)
            .map(|p| p.rsplit('/').next().unwrap_or(p).to_string())
            .collect();
        IoResult::Listed { names }
    }

    fn push(&mut self, op: DirOp) {
        op.apply(&mut self.live);
        self.pending.push(PendingOp { op, synced: false });
    }

    /// Moves the synced operations at the head of `pending` into `durable`: every crash
    /// keeps them.
    fn fold_synced(&mut self) {
        let head = self.pending.iter().take_while(|p| p.synced).count();
        for p in self.pending.drain(..head) {
            p.op.apply(&mut self.durable);
        }
    }

    fn mkdir(&mut self, path: &str) -> IoResult {
        match self.live.get(path) {
            Some(Node::Dir) => IoResult::Done,
            Some(Node::File(_)) => fail("EEXIST", "File exists"),
            None if !self.dir_exists(parent(path)) => fail("ENOENT", "No such file or directory"),
            None => {
                self.push(DirOp::Mkdir(path.to_string()));
                IoResult::Done
            }
        }
    }

    fn create(&mut self, path: &str) -> IoResult {
        if !self.dir_exists(parent(path)) {
            return fail("ENOENT", "No such file or directory");
        }
        match self.inode(path) {
            Some(inode) => {
                let data = self.data.get_mut(&inode).expect("inode data");
                data.written.clear();
                data.appends.clear();
                data.lost = None;
                data.floor = Some(0);
            }
            None => {
                let inode = self.inode_next;
                self.inode_next += 1;
                self.data.insert(inode, Data::default());
                self.push(DirOp::Create(path.to_string(), inode));
            }
        }
        IoResult::Done
    }

    fn append(&mut self, path: &str, bytes: &[u8]) -> IoResult {
        let Some(inode) = self.inode(path) else {
            return fail("ENOENT", "No such file or directory");
        };
        let data = self.data.get_mut(&inode).expect("inode data");
        data.written.extend_from_slice(bytes);
        data.appends.push(data.written.len() as u64);
        IoResult::Done
    }

    fn fsync(&mut self, path: &str) -> IoResult {
        let Some(inode) = self.inode(path) else {
            return fail("ENOENT", "No such file or directory");
        };
        let data = self.data.get_mut(&inode).expect("inode data");
        data.durable = data.image();
        data.appends.clear();
        data.floor = None;
        IoResult::Done
    }

    fn fsync_dir(&mut self, dir: &str) -> IoResult {
        if !self.dir_exists(dir) {
            return fail("ENOENT", "No such file or directory");
        }
        match self.metadata {
            Metadata::Journal => {
                let last = self.pending.iter().rposition(|p| p.op.touches(dir));
                let covered = last.map_or(0, |last| last + 1);
                self.pending[..covered]
                    .iter_mut()
                    .for_each(|p| p.synced = true);
            }
            Metadata::PerDirectory => (self.pending.iter_mut())
                .filter(|p| p.op.journal() == dir)
                .for_each(|p| p.synced = true),
        }
        self.fold_synced();
        IoResult::Done
    }

    fn rename(&mut self, from: &str, to: &str) -> IoResult {
        if !self.live.contains_key(from) {
            return fail("ENOENT", "No such file or directory");
        }
        if !self.dir_exists(parent(to)) {
            return fail("ENOENT", "No such file or directory");
        }
        let node = self.live.get(from).cloned();
        match node {
            // Two directories, two journals: the new name and the old one's removal become
            // durable separately (a crash may keep both names, or neither).
            Some(Node::File(inode))
                if self.metadata == Metadata::PerDirectory && parent(from) != parent(to) =>
            {
                self.push(DirOp::Create(to.to_string(), inode));
                self.push(DirOp::Unlink(from.to_string()));
            }
            _ => self.push(DirOp::Rename(from.to_string(), to.to_string())),
        }
        IoResult::Done
    }

    fn unlink(&mut self, path: &str) -> IoResult {
        if self.inode(path).is_some() {
            self.push(DirOp::Unlink(path.to_string()));
        }
        IoResult::Done
    }

    fn truncate(&mut self, path: &str, len: u64) -> IoResult {
        let Some(inode) = self.inode(path) else {
            return fail("ENOENT", "No such file or directory");
        };
        let data = self.data.get_mut(&inode).expect("inode data");
        // As ftruncate: shorter cuts, longer extends with zeros.
        data.written.resize(len as usize, 0);
        data.appends.retain(|&end| end <= len);
        data.floor = Some(data.floor.map_or(len, |f| f.min(len)));
        // Cutting off the lost range is how it is repaired: what is appended anew is dirty.
        data.lost = data
            .lost
            .and_then(|(from, to)| (from < len).then_some((from, to.min(len))));
        IoResult::Done
    }

    /// Performs `op` as a failing disk would: an append writes only its first half, then
    /// reports ENOSPC; writing a whole file creates it and writes the first half of its bytes,
    /// then reports ENOSPC; an fsync reports EIO and loses the write-back of every un-synced
    /// byte. Other operations (create, rename, directory fsync, unlink, read, list, truncate,
    /// mkdir) report EIO without effect: a failed directory fsync leaves its operations pending.
    /// Only this function produces EIO or ENOSPC; a correct disk's refusals are ENOENT/EEXIST.
    pub fn fail(&mut self, op: &Op) -> IoResult {
        match op {
            Op::Append { path, bytes } => {
                let _ = self.append(path, &bytes[..bytes.len() / 2]);
                fail("ENOSPC", "No space left on device")
            }
            Op::WriteView { path, view } => {
                let mut bytes = Vec::new();
                view.write_to(&mut bytes)
                    .expect("writing to a Vec cannot fail");
                if self.create(path) == IoResult::Done {
                    let _ = self.append(path, &bytes[..bytes.len() / 2]);
                }
                fail("ENOSPC", "No space left on device")
            }
            Op::Fsync { path } => {
                if let Some(inode) = self.inode(path) {
                    let data = self.data.get_mut(&inode).expect("inode data");
                    let (from, to) = (data.durable.len() as u64, data.written.len() as u64);
                    if from < to {
                        let merged = data
                            .lost
                            .map_or((from, to), |(f, t)| (f.min(from), t.max(to)));
                        data.lost = Some(merged);
                    }
                }
                fail("EIO", "Input/output error")
            }
            _ => fail("EIO", "Input/output error"),
        }
    }

    /// Damages the synced bytes of `path` at `offset` (media rot, seen after a restart):
    /// the media and the page cache both hold the damaged bytes from now on.
    pub fn damage(&mut self, path: &str, offset: u64, damage: Damage) {
        let inode = self.inode(path).expect("damage an existing file");
        let data = self.data.get_mut(&inode).expect("inode data");
        let len = data.durable.len().min(data.written.len()) as u64;
        assert!(offset < len, "damage only synced bytes");
        let end = match damage {
            Damage::Flip => offset + 1,
            Damage::Garbage => (offset + GARBAGE_LEN).min(len),
        };
        for bytes in [&mut data.durable, &mut data.written] {
            for b in &mut bytes[offset as usize..end as usize] {
                *b = match damage {
                    Damage::Flip => *b ^ 1,
                    Damage::Garbage => 0xA5,
                };
            }
        }
    }

    /// Performs an append the disk acknowledges but writes to the wrong place: the bytes land
    /// over the start of `victim`'s synced data (as far as it goes), and `path` keeps them
    /// only in the page cache: its write-back is lost, the disk keeps zeros there.
    pub fn misdirect(&mut self, op: &Op, victim: &str) -> IoResult {
        let Op::Append { path, bytes } = op else {
            return self.execute(op);
        };
        let (Some(inode), Some(victim)) = (self.inode(path), self.inode(victim)) else {
            return self.execute(op);
        };
        let data = self.data.get_mut(&inode).expect("inode data");
        let from = data.written.len() as u64;
        data.written.extend_from_slice(bytes);
        data.appends.push(data.written.len() as u64);
        let to = data.written.len() as u64;
        data.lost = Some(
            data.lost
                .map_or((from, to), |(f, t)| (f.min(from), t.max(to))),
        );
        let hit = self.data.get_mut(&victim).expect("inode data");
        for media in [&mut hit.durable, &mut hit.written] {
            let n = bytes.len().min(media.len());
            media[..n].copy_from_slice(&bytes[..n]);
        }
        IoResult::Done
    }

    /// Files whose synced bytes a misdirected append to `path` could land on (every other
    /// file holding synced bytes), for the model checker.
    pub fn misdirect_victims(&self, path: &str) -> Vec<String> {
        self.live
            .iter()
            .filter_map(|(p, node)| match node {
                Node::File(inode) if p != path && !self.data[inode].durable.is_empty() => {
                    Some(p.clone())
                }
                _ => None,
            })
            .collect()
    }
}
