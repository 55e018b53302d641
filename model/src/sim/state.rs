//! The simulated disk's state: the types [`SimDisk`] is made of, and what a directory
//! operation does to a tree of names. A leaf: it imports no other file of `sim`.
//!
//! Owns the representation only; the operations live in `sim.rs` (what a correct POSIX file
//! system does) and `sim/crash.rs` (what a crash may leave). Invariants of this state, kept by
//! every function of those two files that changes it:
//! - `live` is always `durable` with every `pending` operation applied in order, each through
//!   `DirOp::apply`, the one definition of what a directory operation does;
//! - every inode named in `live` or `durable` has its `Data`, and `inode_next` is above every
//!   inode ever allocated;
//! - no pending operation at the head of `pending` is `synced` (synced heads are folded into
//!   `durable` at once), so with [`Metadata::Journal`] no pending operation is ever synced.
//!
//! The model checker hashes a `SimDisk` as part of each state: the fields and their order are
//! part of every pinned state count.

use std::collections::BTreeMap;

pub(super) type Inode = u32;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Node {
    Dir,
    File(Inode),
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct Data {
    pub(super) written: Vec<u8>,
    pub(super) durable: Vec<u8>,
    /// Ends of appends since the last fsync (where tears are most telling).
    pub(super) appends: Vec<u64>,
    /// Bytes whose write-back failed (a failed fsync): Linux marks those pages clean, so reads
    /// still see them but no later fsync writes them; the disk keeps zeros there.
    pub(super) lost: Option<(u64, u64)>,
    /// Set by a truncate or a create over an existing file since the last fsync: bytes below
    /// it are still the durable ones; from it up, the new content may be torn anywhere.
    pub(super) floor: Option<u64>,
}

impl Data {
    /// What write-back would put on the disk: `written`, with the lost range as zeros.
    pub(super) fn image(&self) -> Vec<u8> {
        let mut image = self.written.clone();
        if let Some((from, to)) = self.lost {
            let end = (to as usize).min(image.len());
            image[(from as usize).min(end)..end].fill(0);
        }
        image
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum DirOp {
    Mkdir(String),
    Create(String, Inode),
    Rename(String, String),
    Unlink(String),
}

/// Which directory operations a directory fsync makes durable, and what a crash may keep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Metadata {
    /// One global journal: a directory fsync makes durable every pending operation up to the
    /// last one touching that directory; a crash keeps a prefix of the pending operations.
    #[default]
    Journal,
    /// A journal per directory (a lying disk by POSIX's letter): an operation is durable only
    /// after an fsync of its own directory; a crash keeps, per directory, any prefix of that
    /// directory's pending operations, independently of the others. A rename across
    /// directories is two operations: the link in the target's journal, the unlink in the
    /// source's.
    PerDirectory,
}

/// A pending directory operation; `synced` once a directory fsync covered it (only possible
/// behind an unsynced operation of another directory, with [`Metadata::PerDirectory`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct PendingOp {
    pub(super) op: DirOp,
    pub(super) synced: bool,
}

/// How finely a crash may tear un-synced bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tears {
    /// Every byte offset.
    EveryByte,
    /// Each append boundary, one byte in, the middle and one byte short of each append.
    Sampled,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SimDisk {
    pub(super) live: BTreeMap<String, Node>,
    pub(super) durable: BTreeMap<String, Node>,
    pub(super) pending: Vec<PendingOp>,
    pub(super) data: BTreeMap<Inode, Data>,
    pub(super) inode_next: Inode,
    pub(super) metadata: Metadata,
}

/// The directory holding `path` (`""` for the root).
pub(super) fn parent(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

impl DirOp {
    pub(super) fn touches(&self, dir: &str) -> bool {
        match self {
            DirOp::Mkdir(p) | DirOp::Create(p, _) | DirOp::Unlink(p) => parent(p) == dir,
            DirOp::Rename(from, to) => parent(from) == dir || parent(to) == dir,
        }
    }

    /// The directory whose fsync makes this operation durable with [`Metadata::PerDirectory`]
    /// (a rename's target: cross-directory renames are pushed as link + unlink there).
    pub(super) fn journal(&self) -> &str {
        match self {
            DirOp::Mkdir(p) | DirOp::Create(p, _) | DirOp::Unlink(p) => parent(p),
            DirOp::Rename(_, to) => parent(to),
        }
    }

    /// Applies the operation; one whose directory is missing from `tree` (its mkdir did not
    /// survive a crash) leaves no name behind, as an orphaned inode.
    pub(super) fn apply(&self, tree: &mut BTreeMap<String, Node>) {
        let dir_exists = |tree: &BTreeMap<String, Node>, p: &str| {
            let dir = parent(p);
            dir.is_empty() || tree.get(dir) == Some(&Node::Dir)
        };
        match self {
            DirOp::Mkdir(p) | DirOp::Create(p, _) if !dir_exists(tree, p) => {}
            DirOp::Mkdir(p) => {
                tree.insert(p.clone(), Node::Dir);
            }
            DirOp::Create(p, inode) => {
                tree.insert(p.clone(), Node::File(*inode));
            }
            DirOp::Rename(_, to) if !dir_exists(tree, to) => {}
            DirOp::Rename(from, to) => {
                if let Some(node) = tree.remove(from) {
                    tree.insert(to.clone(), node);
                }
            }
            DirOp::Unlink(p) => {
                tree.remove(p);
            }
        }
    }
}

impl SimDisk {
    /// The inode a path names now, if it names a file.
    pub(super) fn inode(&self, path: &str) -> Option<Inode> {
        match self.live.get(path) {
            Some(Node::File(inode)) => Some(*inode),
            _ => None,
        }
    }
}
