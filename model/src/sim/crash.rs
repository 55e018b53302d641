//! Crash outcomes of a [`SimDisk`]: enumerating them and applying one, and the read-only
//! views of the disk that checks describe crashes with. Imports only `sim/state.rs`.
//!
//! Invariant: every outcome is the durable state plus a prefix of pending directory operations
//! (with [`Metadata::PerDirectory`], a prefix of each directory's own) plus, per file, a prefix of un-synced appended bytes (optionally zero-filled to the written
//! length); nothing else can appear after a crash. A crashed or synced disk it builds has no
//! pending operation and `live` equal to `durable`.

use std::collections::BTreeMap;

use super::state::{Data, DirOp, Inode, Metadata, Node, SimDisk, Tears};

/// What survives of one file's un-synced change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Keep {
    /// The durable bytes plus un-synced bytes up to this length.
    Prefix(u64),
    /// As `Prefix`, then zeros up to the written length.
    PrefixZeroFilled(u64),
    /// The change was not an append (truncate, recreate): the old durable version survives.
    Durable,
    /// ... or the new version does.
    Written,
}

/// One way a crash can turn out.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Crash {
    /// Pending directory operations up to this one (exclusive) may survive ...
    pub dir_ops_kept: usize,
    /// ... except these (only with [`Metadata::PerDirectory`]: their directory was not
    /// fsynced, a later operation of another directory's was).
    pub dropped: Vec<usize>,
    pub files: Vec<(Inode, Keep)>,
}

/// A file as some crash outcome would show it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Surviving {
    /// Bytes certain to survive (the durable bytes).
    pub durable: Vec<u8>,
    /// Whether everything written is durable.
    pub complete: bool,
}

impl SimDisk {
    fn tree_with(&self, kept: usize, dropped: &[usize]) -> BTreeMap<String, Node> {
        let mut tree = self.durable.clone();
        for (i, p) in self.pending[..kept].iter().enumerate() {
            if !dropped.contains(&i) {
                p.op.apply(&mut tree);
            }
        }
        tree
    }

    /// Which pending directory operations a crash may keep: (`dir_ops_kept`, `dropped`).
    fn survivals(&self) -> Vec<(usize, Vec<usize>)> {
        if self.metadata == Metadata::Journal {
            return (0..=self.pending.len()).map(|k| (k, Vec::new())).collect();
        }
        let mut journals: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, p) in self.pending.iter().enumerate() {
            journals.entry(p.op.journal()).or_default().push(i);
        }
        let mut sets: Vec<Vec<usize>> = vec![Vec::new()];
        for ops in journals.values() {
            // What a directory fsync covered survives: the prefix reaches past it.
            let synced = ops.iter().rposition(|&i| self.pending[i].synced);
            let least = synced.map_or(0, |j| j + 1);
            sets = (sets.iter())
                .flat_map(|kept| (least..=ops.len()).map(move |k| [&kept[..], &ops[..k]].concat()))
                .collect();
        }
        sets.into_iter()
            .map(|kept| {
                let n = kept.iter().max().map_or(0, |last| last + 1);
                (n, (0..n).filter(|i| !kept.contains(i)).collect())
            })
            .collect()
    }

    /// Every distinct crash outcome from this state.
    pub fn crashes(&self, tears: Tears) -> Vec<Crash> {
        let mut all = Vec::new();
        for (kept, dropped) in self.survivals() {
            let tree = self.tree_with(kept, &dropped);
            let mut choices: Vec<(Inode, Vec<Keep>)> = Vec::new();
            for node in tree.values() {
                if let Node::File(inode) = node {
                    let keeps = keeps(&self.data[inode], tears);
                    if !keeps.is_empty() {
                        choices.push((*inode, keeps));
                    }
                }
            }
            choices.sort();
            choices.dedup();
            product(&choices, 0, &mut Vec::new(), &mut |files| {
                all.push(Crash {
                    dir_ops_kept: kept,
                    dropped: dropped.clone(),
                    files: files.to_vec(),
                });
            });
        }
        all
    }

    /// The disk after `crash`: everything on it is durable.
    pub fn crash(&self, crash: &Crash) -> SimDisk {
        let tree = self.tree_with(crash.dir_ops_kept, &crash.dropped);
        let mut data = BTreeMap::new();
        for node in tree.values() {
            if let Node::File(inode) = node {
                let old = &self.data[inode];
                let keep = crash
                    .files
                    .iter()
                    .find(|(i, _)| i == inode)
                    .map(|(_, k)| *k);
                let content = surviving_bytes(old, keep);
                data.insert(
                    *inode,
                    Data {
                        written: content.clone(),
                        durable: content,
                        appends: Vec::new(),
                        lost: None,
                        floor: None,
                    },
                );
            }
        }
        SimDisk {
            live: tree.clone(),
            durable: tree,
            pending: Vec::new(),
            data,
            inode_next: self.inode_next,
            metadata: self.metadata,
        }
    }

    /// For each way a crash can keep pending directory operations, the files it could leave,
    /// with what is certain of their content. Used to check what a manifest may name.
    pub fn crash_views(&self) -> Vec<BTreeMap<String, Surviving>> {
        (self.survivals().into_iter())
            .map(|(kept, dropped)| {
                let tree = self.tree_with(kept, &dropped);
                tree.iter()
                    .filter_map(|(path, node)| match node {
                        Node::File(inode) => {
                            let d = &self.data[inode];
                            let s = Surviving {
                                durable: d.durable.clone(),
                                complete: d.durable == d.image(),
                            };
                            Some((path.clone(), s))
                        }
                        Node::Dir => None,
                    })
                    .collect()
            })
            .collect()
    }

    /// Per file of `after` (this disk after a crash or kill), how many leading bytes were
    /// fsynced here: the bytes that media damage to *synced* data may hit.
    pub fn synced_before(&self, after: &SimDisk) -> Vec<(String, u64)> {
        (after.live.iter())
            .filter_map(|(path, node)| match node {
                Node::File(inode) => {
                    let before = self.data.get(inode).map_or(0, |d| d.durable.len());
                    let len = before.min(after.data[inode].written.len()) as u64;
                    (len > 0).then(|| (path.clone(), len))
                }
                Node::Dir => None,
            })
            .collect()
    }

    /// The bytes reads see now, for checks and tests.
    pub fn contents(&self, path: &str) -> Option<&[u8]> {
        self.inode(path).map(|i| self.data[&i].written.as_slice())
    }

    /// Whether every byte of every file and every directory operation is durable.
    pub fn is_quiescent(&self) -> bool {
        self.pending.is_empty() && self.data.values().all(|d| d.durable == d.image())
    }

    /// The disk as if everything written and every directory operation were durable now.
    pub fn as_if_synced(&self) -> SimDisk {
        let mut disk = self.clone();
        for p in std::mem::take(&mut disk.pending) {
            p.op.apply(&mut disk.durable);
        }
        for data in disk.data.values_mut() {
            let image = data.image();
            *data = Data {
                written: image.clone(),
                durable: image,
                ..Data::default()
            };
        }
        disk
    }

    /// The current name of a file (for describing a crash in plain words).
    pub fn path_of(&self, inode: Inode) -> Option<&str> {
        self.live
            .iter()
            .find(|(_, n)| **n == Node::File(inode))
            .map(|(p, _)| p.as_str())
    }

    /// Written and durable lengths of a file (for describing a crash in plain words).
    pub fn lengths(&self, inode: Inode) -> (u64, u64) {
        let d = &self.data[&inode];
        (d.written.len() as u64, d.durable.len() as u64)
    }

    /// Whether a pending directory operation would rename something to `path`.
    pub fn rename_pending_to(&self, path: &str) -> bool {
        self.pending
            .iter()
            .any(|p| matches!(&p.op, DirOp::Rename(_, to) if to == path))
    }

    /// Pending directory operations.
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// Every path that exists now (files and directories).
    pub fn paths(&self) -> Vec<String> {
        self.live.keys().cloned().collect()
    }
}

/// Where a crash may tear the un-synced bytes of `image` from, and whether the old durable
/// version may survive whole; `None` when everything written is durable.
fn tear_from(data: &Data, image: &[u8]) -> Option<(u64, bool)> {
    if data.durable == image {
        return None;
    }
    // A recreated or truncated file: the old version, or the new one torn anywhere from its
    // first byte (the truncate may reach the disk before the data).
    let recreated = data.floor.is_some() || !image.starts_with(&data.durable);
    let from = match data.floor {
        Some(floor) => floor.min(data.durable.len() as u64),
        None if recreated => 0,
        None => data.durable.len() as u64,
    };
    Some((from, recreated))
}

fn keeps(data: &Data, tears: Tears) -> Vec<Keep> {
    let image = data.image();
    let Some((from, recreated)) = tear_from(data, &image) else {
        return Vec::new();
    };
    let to = image.len() as u64;
    let mut cuts: Vec<u64> = match tears {
        Tears::EveryByte => (from..=to).collect(),
        Tears::Sampled => {
            let mut cuts = vec![from, to];
            let mut start = from;
            for &end in data.appends.iter().filter(|&&e| e > from) {
                cuts.extend([start, start + 1, (start + end) / 2, end - 1, end]);
                start = end;
            }
            cuts
        }
    };
    cuts.retain(|&c| (from..=to).contains(&c));
    cuts.sort_unstable();
    cuts.dedup();
    let mut out: Vec<Keep> = recreated.then_some(Keep::Durable).into_iter().collect();
    out.extend(cuts.iter().map(|&c| Keep::Prefix(c)));
    out.extend(
        cuts.iter()
            .filter(|&&c| c < to)
            .map(|&c| Keep::PrefixZeroFilled(c)),
    );
    out
}

fn surviving_bytes(data: &Data, keep: Option<Keep>) -> Vec<u8> {
    let image = data.image();
    match keep {
        None | Some(Keep::Durable) => data.durable.clone(),
        Some(Keep::Written) => image,
        Some(Keep::Prefix(len)) => image[..len as usize].to_vec(),
        Some(Keep::PrefixZeroFilled(len)) => {
            let mut bytes = image[..len as usize].to_vec();
            bytes.resize(image.len(), 0);
            bytes
        }
    }
}

/// Every content a crash may leave in one file, tearing at every byte ([`Tears::EveryByte`]),
/// held without listing them: for checking bytes found on a real disk after a power cut.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileFate {
    data: Data,
}

impl FileFate {
    /// Each content a crash may leave, as [`SimDisk::crash`] would (tears at every byte).
    pub fn outcomes(&self) -> Vec<Vec<u8>> {
        let keeps = keeps(&self.data, Tears::EveryByte);
        if keeps.is_empty() {
            return vec![self.data.durable.clone()];
        }
        let keeps = keeps.into_iter().map(Some);
        keeps.map(|k| surviving_bytes(&self.data, k)).collect()
    }

    /// Whether a crash may leave `bytes` in this file: the same answer as searching
    /// [`FileFate::outcomes`], in one pass over the bytes.
    pub fn allows(&self, bytes: &[u8]) -> bool {
        let image = self.data.image();
        let Some((from, recreated)) = tear_from(&self.data, &image) else {
            return bytes == self.data.durable;
        };
        let (from, to, len) = (from as usize, image.len(), bytes.len());
        if (recreated && bytes == self.data.durable)
            || ((from..=to).contains(&len) && image.starts_with(bytes))
        {
            return true;
        }
        // Zero-filled: image[..c] then zeros up to `to`, for some c in from..to.
        let common = bytes.iter().zip(&image).take_while(|(a, b)| a == b).count();
        let zeros_from = len - bytes.iter().rev().take_while(|b| **b == 0).count();
        len == to && zeros_from.max(from) <= common.min(to.saturating_sub(1)) && from < to
    }
}

/// One way a crash can keep the pending directory operations: each surviving name, `None`
/// for a directory, or what its file may hold.
pub type FateTree = BTreeMap<String, Option<FileFate>>;

impl SimDisk {
    /// Every crash outcome, grouped: per way of keeping the pending directory operations, the
    /// names that survive and each file's possible contents (a crash outcome picks one content
    /// per file independently). Equal, once expanded, to [`SimDisk::crashes`] with
    /// [`Tears::EveryByte`] applied by [`SimDisk::crash`].
    pub fn crash_fates(&self) -> Vec<FateTree> {
        let fate = |node: &Node| match node {
            Node::Dir => None,
            Node::File(inode) => Some(FileFate {
                data: self.data[inode].clone(),
            }),
        };
        (self.survivals().into_iter())
            .map(|(kept, dropped)| {
                let tree = self.tree_with(kept, &dropped);
                tree.iter()
                    .map(|(p, node)| (p.clone(), fate(node)))
                    .collect()
            })
            .collect()
    }
}

/// Receives each combination of per-file choices.
type Emit<'a> = dyn FnMut(&[(Inode, Keep)]) + 'a;

fn product(
    choices: &[(Inode, Vec<Keep>)],
    at: usize,
    acc: &mut Vec<(Inode, Keep)>,
    emit: &mut Emit<'_>,
) {
    let Some((inode, keeps)) = choices.get(at) else {
        emit(acc);
        return;
    };
    for keep in keeps {
        acc.push((*inode, *keep));
        product(choices, at + 1, acc, emit);
        acc.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::{IoResult, Op};
    use bytes::Bytes;

    fn op_append(path: &str, bytes: &'static [u8]) -> Op {
        Op::Append {
            path: path.to_string(),
            bytes: Bytes::from_static(bytes),
        }
    }

    #[test]
    fn unsynced_create_can_vanish_and_unsynced_bytes_can_tear() {
        let mut disk = SimDisk::new();
        assert_eq!(
            disk.execute(&Op::Create { path: "f".into() }),
            IoResult::Done
        );
        assert_eq!(disk.execute(&op_append("f", b"abcd")), IoResult::Done);
        let outcomes = disk.crashes(Tears::EveryByte);
        // Entry lost, or kept with 0..=4 bytes, or torn + zero-filled (4 variants).
        assert_eq!(outcomes.len(), 1 + 5 + 4);
        let lost = disk.crash(&outcomes[0]);
        assert_eq!(lost.contents("f"), None);
        disk.execute(&Op::Fsync { path: "f".into() });
        disk.execute(&Op::FsyncDir {
            path: String::new(),
        });
        assert!(disk.is_quiescent());
        assert_eq!(disk.crashes(Tears::EveryByte).len(), 1);
    }

    /// Goal: with per-directory metadata, a directory fsync covers only its own directory,
    /// a crash keeps any prefix per directory, and a cross-directory rename is two halves.
    #[test]
    fn per_directory_metadata_keeps_each_directory_separately() {
        let mut disk = SimDisk::with_metadata(Metadata::PerDirectory);
        disk.execute(&Op::CreateDir { path: "d".into() });
        disk.execute(&Op::FsyncDir {
            path: String::new(),
        });
        disk.execute(&Op::Create { path: "t".into() });
        disk.execute(&Op::Create { path: "d/a".into() });
        disk.execute(&Op::FsyncDir { path: "d".into() });
        // "d/a" is durable although "t", pending in the root, came first.
        let views = disk.crash_views();
        assert_eq!(views.len(), 2, "the root's one pending op: kept or not");
        assert!(views.iter().all(|v| v.contains_key("d/a")));
        assert!(views.iter().any(|v| !v.contains_key("t")));
        let dropped = disk.crashes(Tears::Sampled);
        assert!(dropped.iter().any(|c| c.dropped == vec![0]));
        disk.execute(&Op::FsyncDir {
            path: String::new(),
        });
        disk.execute(&Op::Rename {
            from: "t".into(),
            to: "d/t".into(),
        });
        // Link in d, unlink in the root: both names, one, or the other survive.
        let views = disk.crash_views();
        assert_eq!(views.len(), 4);
        assert!(views
            .iter()
            .any(|v| v.contains_key("t") && v.contains_key("d/t")));
        assert!(views
            .iter()
            .any(|v| !v.contains_key("t") && !v.contains_key("d/t")));
        disk.execute(&Op::FsyncDir { path: "d".into() });
        let views = disk.crash_views();
        assert_eq!(views.len(), 2);
        assert!(views.iter().all(|v| v.contains_key("d/t")));
    }

    /// Goal: damage changes synced bytes where reads and the media see them; a misdirected
    /// append is acknowledged, lands over another file, and its own file keeps zeros.
    #[test]
    fn damage_and_misdirected_appends_change_what_survives() {
        use crate::sim::Damage;
        let mut disk = SimDisk::new();
        for path in ["a", "b"] {
            disk.execute(&Op::Create { path: path.into() });
            disk.execute(&op_append(path, b"1234567890"));
            disk.execute(&Op::Fsync { path: path.into() });
        }
        disk.execute(&Op::FsyncDir {
            path: String::new(),
        });
        disk.damage("a", 0, Damage::Flip);
        assert_eq!(disk.contents("a"), Some(&b"0234567890"[..]));
        disk.damage("a", 4, Damage::Garbage);
        assert_eq!(
            disk.contents("a"),
            Some(&b"0234\xa5\xa5\xa5\xa5\xa5\xa5"[..])
        );
        assert!(disk.is_quiescent());
        assert_eq!(disk.misdirect_victims("b"), vec!["a".to_string()]);
        assert_eq!(disk.misdirect(&op_append("b", b"XY"), "a"), IoResult::Done);
        assert_eq!(
            disk.contents("b"),
            Some(&b"1234567890XY"[..]),
            "the page cache has it"
        );
        disk.execute(&Op::Fsync { path: "b".into() });
        let after = disk.crash(&disk.crashes(Tears::Sampled)[0]);
        assert_eq!(after.contents("b"), Some(&b"1234567890\0\0"[..]));
        assert!(after.contents("a").unwrap().starts_with(b"XY34"));
    }

    /// Goal: `crash_fates` describes exactly the outcomes `crashes(EveryByte)` + `crash` give,
    /// and `allows` answers as a search of `outcomes` (zero-filled and recreated files too).
    #[test]
    fn crash_fates_match_every_byte_crashes() {
        let mut disk = SimDisk::new();
        disk.execute(&Op::Create { path: "a".into() });
        disk.execute(&op_append("a", b"ab\0c"));
        disk.execute(&Op::Fsync { path: "a".into() });
        disk.execute(&Op::FsyncDir {
            path: String::new(),
        });
        disk.execute(&op_append("a", b"x\0y"));
        disk.execute(&Op::Create { path: "b".into() });
        disk.execute(&op_append("b", b"12"));
        disk.execute(&Op::Truncate {
            path: "a".into(),
            len: 3,
        });
        disk.execute(&op_append("a", b"zz"));
        let mut expanded = std::collections::BTreeSet::new();
        for tree in disk.crash_fates() {
            let files: Vec<(String, Vec<Vec<u8>>)> = (tree.iter())
                .filter_map(|(p, f)| f.as_ref().map(|f| (p.clone(), f.outcomes())))
                .collect();
            assert!(files.len() <= 2);
            let second = files.get(1).map_or(vec![Vec::new()], |f| f.1.clone());
            for x in files.first().map_or(vec![Vec::new()], |f| f.1.clone()) {
                for y in &second {
                    expanded.insert((
                        tree.keys().cloned().collect::<Vec<_>>(),
                        x.clone(),
                        y.clone(),
                    ));
                }
            }
        }
        let mut direct = std::collections::BTreeSet::new();
        for crash in disk.crashes(Tears::EveryByte) {
            let after = disk.crash(&crash);
            let names = after.paths();
            let mut contents = names.iter().filter_map(|p| after.contents(p));
            let x = contents.next().map_or(Vec::new(), <[u8]>::to_vec);
            let y = contents.next().map_or(Vec::new(), <[u8]>::to_vec);
            direct.insert((names, x, y));
        }
        assert_eq!(expanded, direct);
        for tree in disk.crash_fates() {
            for fate in tree.values().flatten() {
                let outcomes = fate.outcomes();
                // Each outcome, and each one changed by a byte (set to 0 or 'x', cut, or
                // extended by a 0): `allows` agrees with a search of the outcomes.
                let mut probes = outcomes.clone();
                for o in &outcomes {
                    for i in 0..o.len() {
                        for b in [0, b'x'] {
                            let mut p = o.clone();
                            p[i] = b;
                            probes.push(p);
                        }
                    }
                    probes.push(o[..o.len().saturating_sub(1)].to_vec());
                    probes.push([&o[..], &[0]].concat());
                }
                for probe in probes {
                    assert_eq!(fate.allows(&probe), outcomes.contains(&probe), "{probe:?}");
                }
            }
        }
    }

    #[test]
    fn rename_survives_only_after_directory_fsync() {
        let mut disk = SimDisk::new();
        disk.execute(&Op::Create { path: "t".into() });
        disk.execute(&op_append("t", b"x"));
        disk.execute(&Op::Fsync { path: "t".into() });
        disk.execute(&Op::FsyncDir {
            path: String::new(),
        });
        disk.execute(&Op::Rename {
            from: "t".into(),
            to: "m".into(),
        });
        let views = disk.crash_views();
        assert!(views[0].contains_key("t") && !views[0].contains_key("m"));
        assert!(views[1].contains_key("m") && !views[1].contains_key("t"));
        disk.execute(&Op::FsyncDir {
            path: String::new(),
        });
        assert_eq!(disk.crash_views().len(), 1);
    }
}
