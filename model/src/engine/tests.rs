//! Engine scenarios over SimDisk, driven step by step (quinn's `Pair` idea): each test names
//! the rule it checks and drives time and completions explicitly.

use std::collections::VecDeque;

use bytes::Bytes;

use super::{ClientId, Engine, Phase, Reply};
use crate::config::{Config, FsyncPolicy};
use crate::io::{Effect, IoDone, IoError, IoResult, Lane, Op};
use crate::keyspace::Keyspace;
use crate::resp::Frame;
use crate::sim::SimDisk;

pub(super) struct Rig {
    pub(super) engine: Engine,
    pub(super) disk: SimDisk,
    pub(super) now_ms: u64,
    pending: VecDeque<Effect>,
    pub(super) replies: Vec<(ClientId, Reply)>,
    logs: Vec<String>,
    pub(super) fail_next: Option<&'static str>,
}

pub(super) fn argv(line: &str) -> Vec<Bytes> {
    line.split(' ')
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect()
}

impl Rig {
    pub(super) fn start(config: Config) -> Rig {
        Rig::boot(config, SimDisk::new(), 0)
    }

    fn boot(config: Config, disk: SimDisk, now_ms: u64) -> Rig {
        let engine = Engine::new(config, now_ms);
        let mut rig = Rig {
            engine,
            disk,
            now_ms,
            pending: VecDeque::new(),
            replies: Vec::new(),
            logs: Vec::new(),
            fail_next: None,
        };
        rig.settle();
        rig
    }

    pub(super) fn pump(&mut self) {
        while let Some(e) = self.engine.poll_effect() {
            self.pending.push_back(e);
        }
        while let Some(r) = self.engine.poll_reply() {
            self.replies.push(r);
        }
        while let Some(l) = self.engine.poll_event() {
            self.logs.push(l.message);
        }
    }

    /// Completes the oldest pending effect (optionally only those matching `pick`).
    pub(super) fn complete(&mut self, pick: impl Fn(&Op) -> bool) -> Option<Op> {
        self.pump();
        let at = self.pending.iter().position(|e| pick(&e.op))?;
        let effect = self.pending.remove(at).expect("present");
        let result = match self.fail_next.take() {
            Some(kind) => IoResult::Failed(IoError {
                kind: kind.into(),
                message: "No space left on device".into(),
            }),
            None => self.disk.execute(&effect.op),
        };
        self.engine.handle_io(
            self.now_ms,
            IoDone {
                id: effect.id,
                result,
            },
        );
        self.pump();
        Some(effect.op)
    }

    /// Completes the oldest pending effect of `lane`.
    fn complete_on(&mut self, lane: Lane) -> Option<Op> {
        self.pump();
        let at = self.pending.iter().position(|e| e.lane == lane)?;
        let effect = self.pending.remove(at).expect("present");
        let result = self.disk.execute(&effect.op);
        let done = IoDone {
            id: effect.id,
            result,
        };
        self.engine.handle_io(self.now_ms, done);
        self.pump();
        Some(effect.op)
    }

    pub(super) fn settle(&mut self) {
        while self.complete(|_| true).is_some() {}
    }

    pub(super) fn send(&mut self, client: ClientId, line: &str) {
        self.engine.handle_command(self.now_ms, client, argv(line));
        self.pump();
    }

    pub(super) fn tick(&mut self, ms: u64) {
        self.now_ms += ms;
        self.engine.handle_timeout(self.now_ms);
        self.pump();
    }

    /// The frames released since the last call (silent replies and closes left out).
    pub(super) fn take_replies(&mut self) -> Vec<Frame> {
        std::mem::take(&mut self.replies)
            .into_iter()
            .filter_map(|(_, r)| r.frame().cloned())
            .collect()
    }

    pub(super) fn restart(self, config: Config) -> Rig {
        Rig::boot(config, self.disk, self.now_ms)
    }
}

pub(super) fn config(policy: FsyncPolicy) -> Config {
    Config {
        appendfsync: policy,
        ..Config::default()
    }
}

const INCR1: &str = "appendonlydir/appendonly.aof.1.incr.aof";

#[test]
fn fresh_start_creates_the_multi_part_layout() {
    let rig = Rig::start(config(FsyncPolicy::Always));
    assert_eq!(*rig.engine.phase(), Phase::Running);
    let manifest = rig
        .disk
        .contents("appendonlydir/appendonly.aof.manifest")
        .expect("manifest");
    assert_eq!(
        manifest,
        sealed(b"file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n")
    );
    assert!(rig
        .disk
        .contents("appendonlydir/appendonly.aof.1.base.rdb")
        .unwrap()
        .starts_with(b"REDIS0010"));
    assert_eq!(rig.disk.contents(INCR1), Some(&b""[..]));
    assert!(
        rig.disk.is_quiescent(),
        "everything the start-up made is durable"
    );
}

/// Under `always` the reply waits for the fsync; two writes during one fsync share the next.
#[test]
fn always_releases_replies_after_fsync_and_groups_commits() {
    let mut rig = Rig::start(config(FsyncPolicy::Always));
    rig.send(1, "SET a 1");
    assert!(rig.take_replies().is_empty());
    assert!(matches!(rig.complete(|_| true), Some(Op::Append { .. })));
    assert!(
        rig.take_replies().is_empty(),
        "written is not enough under always"
    );
    rig.send(2, "SET b 2");
    rig.send(3, "SET c 3");
    assert!(matches!(rig.complete(|_| true), Some(Op::Fsync { .. })));
    assert_eq!(rig.take_replies(), vec![Frame::ok()]);
    // One append and one fsync carry both later writes.
    assert!(matches!(rig.complete(|_| true), Some(Op::Append { bytes, .. }) if bytes.len() > 40));
    assert!(rig.complete(|_| true).is_some());
    assert_eq!(rig.take_replies(), vec![Frame::ok(), Frame::ok()]);
    assert!(rig.pending.is_empty());
}

/// A read executed after an un-synced write waits too: no reply reveals non-durable data.
#[test]
fn always_holds_reads_behind_unsynced_writes() {
    let mut rig = Rig::start(config(FsyncPolicy::Always));
    rig.send(1, "SET a 1");
    rig.send(2, "GET a");
    assert!(rig.take_replies().is_empty());
    rig.settle();
    assert_eq!(
        rig.take_replies(),
        vec![Frame::ok(), Frame::Bulk(Bytes::from_static(b"1"))]
    );
}

/// Everysec: the reply follows the write; a background fsync runs once a second; a write is
/// postponed behind a running fsync for at most 2 s, then goes out anyway.
#[test]
fn everysec_postpones_writes_at_most_two_seconds() {
    let mut rig = Rig::start(config(FsyncPolicy::Everysec));
    rig.send(1, "SET a 1");
    assert!(matches!(rig.complete(|_| true), Some(Op::Append { .. })));
    assert_eq!(rig.take_replies(), vec![Frame::ok()]);
    rig.tick(1000);
    assert!(
        rig.pending.iter().any(|e| e.lane == Lane::Sync),
        "idle fsync issued"
    );
    rig.send(1, "SET b 2");
    assert!(
        rig.complete(|op| matches!(op, Op::Append { .. })).is_none(),
        "postponed behind the fsync"
    );
    rig.tick(1500);
    assert!(rig.complete(|op| matches!(op, Op::Append { .. })).is_none());
    rig.tick(600);
    assert!(
        rig.complete(|op| matches!(op, Op::Append { .. })).is_some(),
        "written after 2 s"
    );
    assert_eq!(rig.engine.delayed_fsync(), 1);
}

#[test]
fn restart_replays_the_log_and_appends_to_the_last_incr() {
    let mut rig = Rig::start(config(FsyncPolicy::Always));
    for line in ["SET a 1", "INCR n", "SELECT 3", "SET z 9"] {
        rig.send(1, line);
    }
    rig.settle();
    let mut rig = rig.restart(config(FsyncPolicy::Always));
    assert_eq!(*rig.engine.phase(), Phase::Running);
    assert_eq!(rig.engine.keyspace().dbs[0].len(), 2);
    assert_eq!(rig.engine.keyspace().dbs[3].len(), 1);
    rig.send(1, "SET b 2");
    rig.settle();
    let incr = rig.disk.contents(INCR1).unwrap();
    // The new run starts with a SELECT: the file never relies on the previous run's db.
    assert!(incr[..records_end(incr)]
        .ends_with(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n"));
}

/// Where the file's last checksum line starts; it must be the file's last line.
fn records_end(file: &[u8]) -> usize {
    let at = file
        .windows(crate::aof::checksum::PREFIX.len())
        .rposition(|w| w == crate::aof::checksum::PREFIX)
        .expect("a checksum line");
    let line = &file[at..];
    assert!(
        matches!(crate::aof::checksum::parse(line), Some(Ok(_))),
        "last line"
    );
    at
}

fn disk_with_records(lines: &[&str]) -> (SimDisk, usize) {
    let mut rig = Rig::start(config(FsyncPolicy::Always));
    for line in lines {
        rig.send(1, line);
    }
    rig.settle();
    let len = rig.disk.contents(INCR1).unwrap().len();
    (rig.disk, len)
}

/// A torn last record is cut at the last whole record, with the offset logged.
#[test]
fn torn_tail_of_the_last_file_is_truncated() {
    let (mut disk, _) = disk_with_records(&["SET a 1", "SET b 2"]);
    let end = records_end(disk.contents(INCR1).unwrap());
    disk.execute(&Op::Truncate {
        path: INCR1.into(),
        len: end as u64 - 3,
    });
    let rig = Rig::boot(config(FsyncPolicy::Always), disk, 0);
    assert_eq!(*rig.engine.phase(), Phase::Running);
    assert_eq!(rig.engine.keyspace().len(), 1);
    let whole = rig.disk.contents(INCR1).unwrap().len();
    assert!(
        rig.logs
            .iter()
            .any(|l| l.contains(&format!("at offset {whole}"))),
        "{:?}",
        rig.logs
    );
}

#[test]
fn zero_filled_tail_is_a_torn_tail() {
    let (mut disk, len) = disk_with_records(&["SET a 1"]);
    disk.execute(&Op::Append {
        path: INCR1.into(),
        bytes: Bytes::from(vec![0u8; 4096]),
    });
    let rig = Rig::boot(config(FsyncPolicy::Always), disk, 0);
    assert_eq!(*rig.engine.phase(), Phase::Running);
    assert_eq!(rig.disk.contents(INCR1).unwrap().len(), len);
}

/// Torn anywhere inside the last record (even right after its `\r`), then zeros to the
/// written length: still a torn tail.
#[test]
fn torn_then_zero_filled_at_every_offset_of_the_last_record() {
    let (disk, len) = disk_with_records(&["SET a 1", "SET b 2"]);
    let full = disk.contents(INCR1).unwrap().to_vec();
    let end = records_end(&full);
    let last_start = end - b"*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n".len();
    for cut in last_start..end {
        let mut disk = disk.clone();
        let mut bytes = full[..cut].to_vec();
        bytes.resize(len + 7, 0);
        disk.execute(&Op::Create { path: INCR1.into() });
        disk.execute(&Op::Append {
            path: INCR1.into(),
            bytes: Bytes::from(bytes),
        });
        let rig = Rig::boot(config(FsyncPolicy::Always), disk, 0);
        assert_eq!(*rig.engine.phase(), Phase::Running, "cut at {cut}");
        assert_eq!(
            rig.disk.contents(INCR1).unwrap(),
            &full[..last_start],
            "cut at {cut}"
        );
    }
}

#[test]
fn torn_tail_refused_without_aof_load_truncated() {
    let (mut disk, len) = disk_with_records(&["SET a 1"]);
    disk.execute(&Op::Truncate {
        path: INCR1.into(),
        len: len as u64 - 1,
    });
    let rig = Rig::boot(
        Config {
            aof_load_truncated: false,
            ..config(FsyncPolicy::Always)
        },
        disk,
        0,
    );
    let Phase::Refused(e) = rig.engine.phase() else {
        panic!("must refuse")
    };
    assert_eq!(e.file, INCR1);
}

/// Damage that is not at the end refuses start-up, naming the file and byte offset.
#[test]
fn corrupt_middle_refuses_with_file_and_offset() {
    let (mut disk, _) = disk_with_records(&["SET a 1", "SET b 2"]);
    let mut bytes = disk.contents(INCR1).unwrap().to_vec();
    bytes[30] = b'!';
    disk.execute(&Op::Create { path: INCR1.into() });
    disk.execute(&Op::Append {
        path: INCR1.into(),
        bytes: Bytes::from(bytes),
    });
    let rig = Rig::boot(config(FsyncPolicy::Always), disk, 0);
    let Phase::Refused(e) = rig.engine.phase() else {
        panic!("must refuse")
    };
    assert_eq!((e.file.as_str(), e.offset), (INCR1, Some(30)), "{e}");
}

/// Without a manifest, AOF files that hold data are not silently ignored.
#[test]
fn lost_manifest_next_to_data_refuses() {
    let (mut disk, _) = disk_with_records(&["SET a 1"]);
    disk.execute(&Op::Delete {
        path: "appendonlydir/appendonly.aof.manifest".into(),
    });
    let rig = Rig::boot(config(FsyncPolicy::Always), disk, 0);
    let Phase::Refused(e) = rig.engine.phase() else {
        panic!("must refuse")
    };
    assert!(e.reason.contains("manifest"), "{e}");
}

/// A failed write is sticky: MISCONF for writes and PING, reads still served; a retry after a
/// second truncates back to the last good byte and rewrites; then writes resume.
#[test]
fn write_failure_is_sticky_until_a_retry_succeeds() {
    let mut rig = Rig::start(config(FsyncPolicy::Everysec));
    rig.send(1, "SET a 1");
    rig.fail_next = Some("ENOSPC");
    rig.complete(|_| true);
    assert!(matches!(&rig.take_replies()[..], [Frame::Error(e)] if e.starts_with("MISCONF")));
    rig.send(1, "SET b 2");
    rig.send(1, "PING");
    rig.send(1, "GET a");
    let replies = rig.take_replies();
    assert!(
        matches!(&replies[..2], [Frame::Error(a), Frame::Error(b)] if a.starts_with("MISCONF") && b.starts_with("MISCONF"))
    );
    assert_eq!(replies[2], Frame::Bulk(Bytes::from_static(b"1")));
    rig.tick(1000);
    rig.settle();
    assert!(rig.engine.aof_error().is_none());
    rig.send(1, "SET c 3");
    rig.settle();
    assert_eq!(rig.take_replies(), vec![Frame::ok()]);
    let rig = rig.restart(config(FsyncPolicy::Everysec));
    assert_eq!(rig.engine.keyspace().len(), 2, "a and c, each once");
}

#[test]
fn shutdown_writes_and_fsyncs_everything() {
    let mut rig = Rig::start(config(FsyncPolicy::No));
    rig.send(1, "SET a 1");
    rig.engine.handle_shutdown(rig.now_ms);
    rig.settle();
    assert_eq!(*rig.engine.phase(), Phase::Stopped);
    assert!(rig.disk.is_quiescent());
}

/// Rotation: the old file is durable before the manifest naming a new one is written; the new
/// file starts with SELECT; both load on restart.
#[test]
fn rotation_makes_the_old_file_durable_first() {
    let mut rig = Rig::start(config(FsyncPolicy::No));
    rig.send(1, "SELECT 2");
    rig.send(1, "SET a 1");
    assert!(rig.engine.handle_rotate(rig.now_ms));
    rig.send(1, "SET b 2"); // logged while the append of `a` is in flight: goes to the old file
    rig.complete(|op| matches!(op, Op::Append { .. }));
    rig.send(1, "SET c 3"); // logged after the switch started: the new file
    let mut ops = Vec::new();
    while let Some(op) = rig.complete(|_| true) {
        ops.push(op.describe());
    }
    let fsync_old = ops
        .iter()
        .position(|o| o == &format!("fsync {INCR1}"))
        .expect("old fsynced");
    let manifest = ops
        .iter()
        .position(|o| o.starts_with("rename appendonlydir/temp"))
        .expect("manifest");
    assert!(fsync_old < manifest, "{ops:#?}");
    let incr2 = rig
        .disk
        .contents("appendonlydir/appendonly.aof.2.incr.aof")
        .unwrap();
    assert!(incr2.starts_with(b"*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n"));
    let rig = rig.restart(config(FsyncPolicy::No));
    assert_eq!(rig.engine.keyspace().dbs[2].len(), 3);
}

fn rdb_config(save: &str) -> Config {
    let save_points = crate::config::SavePoint::parse_list(save).unwrap();
    Config {
        appendonly: false,
        save_points,
        ..Config::default()
    }
}

/// BGSAVE serialises the view taken when it starts (later writes are not in it), off the
/// engine's lane, then temp → rename → directory fsync; a restart with AOF off loads it.
#[test]
fn bgsave_writes_one_point_in_time_through_a_temp_file() {
    let mut rig = Rig::start(rdb_config(""));
    rig.send(1, "SET a 1");
    rig.send(1, "BGSAVE");
    rig.send(1, "SET b 2");
    assert_eq!(
        rig.take_replies()[1],
        Frame::Simple("Background saving started".into())
    );
    let mut ops = Vec::new();
    while let Some(op) = rig.complete(|_| true) {
        ops.push(op.describe());
    }
    assert!(
        ops[0].starts_with("write 1 keys as an RDB snapshot to temp-1.rdb"),
        "{ops:?}"
    );
    assert_eq!(
        ops[1..],
        [
            "fsync temp-1.rdb",
            "rename temp-1.rdb -> dump.rdb",
            "fsync directory ."
        ]
    );
    let rig = rig.restart(rdb_config(""));
    assert_eq!(*rig.engine.phase(), Phase::Running);
    assert_eq!(
        rig.engine.keyspace().len(),
        1,
        "b was written after the snapshot started"
    );
}

/// SAVE's reply waits for the snapshot to be durable; so do the replies queued behind it.
#[test]
fn save_replies_after_the_snapshot_is_durable() {
    let mut rig = Rig::start(rdb_config(""));
    rig.send(1, "SET a 1");
    rig.send(1, "SAVE");
    rig.send(2, "PING");
    assert_eq!(rig.take_replies(), vec![Frame::ok()]);
    rig.settle();
    assert_eq!(
        rig.take_replies(),
        vec![Frame::ok(), Frame::Simple("PONG".into())]
    );
    assert!(rig.disk.is_quiescent());
}

/// `save 60 2`: strictly more than 60 s and at least 2 changes.
#[test]
fn save_point_fires_on_changes_and_strictly_elapsed_time() {
    let mut rig = Rig::start(rdb_config("60 2"));
    rig.send(1, "SET a 1");
    rig.tick(61_000);
    assert!(rig.pending.is_empty(), "one change is not enough");
    rig.send(1, "SET b 2");
    rig.now_ms = 60_000;
    rig.tick(0);
    assert!(rig.pending.is_empty(), "60 s is not more than 60 s");
    rig.tick(1_000);
    assert!(rig
        .pending
        .iter()
        .any(|e| matches!(e.op, Op::WriteView { .. })));
    rig.settle();
    assert!(
        rig.logs
            .iter()
            .any(|l| l.contains("2 changes in 60 seconds")),
        "{:?}",
        rig.logs
    );
}

/// A failed BGSAVE with save points refuses writes (and PING) with Redis's MISCONF until a
/// later snapshot succeeds; reads still work.
#[test]
fn failed_bgsave_stops_writes_until_a_snapshot_succeeds() {
    let mut rig = Rig::start(rdb_config("3600 1"));
    rig.send(1, "SET a 1");
    rig.send(1, "BGSAVE");
    rig.fail_next = Some("ENOSPC");
    rig.complete(|_| true);
    rig.take_replies();
    rig.send(1, "SET b 2");
    rig.send(1, "GET a");
    let replies = rig.take_replies();
    assert!(
        matches!(&replies[0], Frame::Error(e) if e.starts_with("MISCONF Redis is configured to save RDB"))
    );
    assert_eq!(replies[1], Frame::Bulk(Bytes::from_static(b"1")));
    rig.send(1, "BGSAVE");
    rig.settle();
    rig.take_replies();
    rig.send(1, "SET b 2");
    assert_eq!(rig.take_replies(), vec![Frame::ok()]);
}

#[test]
fn zero_length_or_trailing_bytes_in_dump_refuse_start() {
    let mut disk = SimDisk::new();
    disk.execute(&Op::Create {
        path: "dump.rdb".into(),
    });
    let rig = Rig::boot(rdb_config(""), disk.clone(), 0);
    assert!(matches!(rig.engine.phase(), Phase::Refused(e) if e.file == "dump.rdb"));
    let mut rig = Rig::start(rdb_config(""));
    rig.send(1, "SET a 1");
    rig.send(1, "SAVE");
    rig.settle();
    rig.disk.execute(&Op::Append {
        path: "dump.rdb".into(),
        bytes: Bytes::from_static(b"x"),
    });
    let rig = rig.restart(rdb_config(""));
    assert!(
        matches!(rig.engine.phase(), Phase::Refused(e) if e.reason.contains("after the RDB checksum"))
    );
}

/// With save points, SHUTDOWN saves before stopping; SHUTDOWN NOSAVE does not.
#[test]
fn shutdown_saves_when_save_points_are_set() {
    let mut rig = Rig::start(rdb_config("3600 1"));
    rig.send(1, "SET a 1");
    rig.send(1, "SHUTDOWN");
    rig.settle();
    assert_eq!(*rig.engine.phase(), Phase::Stopped);
    assert!(rig.disk.contents("dump.rdb").is_some());
    let mut rig = Rig::start(rdb_config("3600 1"));
    rig.send(1, "SET a 1");
    rig.send(1, "SHUTDOWN NOSAVE");
    rig.settle();
    assert_eq!(*rig.engine.phase(), Phase::Stopped);
    assert!(rig.disk.contents("dump.rdb").is_none());
}

/// BGREWRITEAOF: writes during the rewrite go to the new incr file; the base holds the data set
/// when appends switched; the manifest names the new base and incr only after the base is
/// durable; the replaced files are deleted last; a restart loads everything.
#[test]
fn rewrite_swaps_in_a_new_base_and_deletes_history_last() {
    let mut rig = Rig::start(config(FsyncPolicy::Always));
    rig.send(1, "SET a 1");
    rig.send(1, "INCR n");
    rig.settle();
    rig.send(1, "BGREWRITEAOF");
    rig.send(1, "SET b 2");
    let mut ops = Vec::new();
    while let Some(op) = rig.complete(|_| true) {
        ops.push(op.describe());
    }
    let at = |prefix: &str| {
        ops.iter()
            .position(|o| o.starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix}: {ops:#?}"))
    };
    let base = at("rename temp-rewriteaof-bg-2.aof -> appendonlydir/appendonly.aof.2.base.rdb");
    assert!(at("write 2 keys as an RDB-format AOF base") < base);
    let manifests: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, o)| o.contains("-> appendonlydir/appendonly.aof.manifest"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        manifests.len(),
        3,
        "rotation, with history, without history: {ops:#?}"
    );
    assert!(
        manifests[1] > base && at("delete appendonlydir/appendonly.aof.1.incr.aof") > manifests[1]
    );
    assert_eq!(
        rig.disk.contents("appendonlydir/appendonly.aof.manifest").unwrap(),
        sealed(b"file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n")
    );
    assert!(rig.disk.contents(INCR1).is_none());
    let replies = rig.take_replies();
    assert!(replies.contains(&Frame::Simple(
        "Background append only file rewriting started".into()
    )));
    let rig = rig.restart(config(FsyncPolicy::Always));
    assert_eq!(rig.engine.keyspace().len(), 3);
}

/// `no-appendfsync-on-rewrite yes` weakens `always` while a rewrite runs: replies leave after
/// the write, before any fsync (the checker's counterexample shows the loss).
#[test]
fn no_appendfsync_on_rewrite_releases_always_replies_unsynced() {
    let mut rig = Rig::start(Config {
        no_appendfsync_on_rewrite: true,
        ..config(FsyncPolicy::Always)
    });
    rig.send(1, "BGREWRITEAOF");
    rig.take_replies();
    // Finish the switch to the new incr file; leave the base being written.
    while rig
        .complete(|op| !matches!(op, Op::WriteView { .. }))
        .is_some()
    {}
    rig.send(2, "SET a 1");
    rig.complete(|op| matches!(op, Op::Append { path, .. } if path.ends_with("incr.aof")));
    assert_eq!(rig.take_replies(), vec![Frame::ok()]);
}

/// CONFIG SET appendonly yes at run time writes a base from memory and then logs; a restart
/// with the AOF on loads both. CONFIG SET appendonly no answers once the log is durable.
#[test]
fn appendonly_can_be_switched_at_run_time() {
    let mut rig = Rig::start(rdb_config(""));
    rig.send(1, "SET a 1");
    rig.now_ms = 1_700_000_000_000;
    rig.send(1, "CONFIG SET appendonly yes");
    rig.send(1, "SET b 2");
    rig.settle();
    assert_eq!(
        rig.take_replies(),
        vec![Frame::ok(), Frame::ok(), Frame::ok()]
    );
    let manifest = rig
        .disk
        .contents("appendonlydir/appendonly.aof.manifest")
        .unwrap()
        .to_vec();
    assert_eq!(
        manifest,
        sealed(b"file appendonly.aof.1700000000.base.rdb seq 1700000000 type b\nfile appendonly.aof.1700000000.incr.aof seq 1700000000 type i\n")
    );
    rig.send(1, "SET c 3");
    rig.send(1, "CONFIG SET appendonly no");
    rig.send(1, "SET d 4");
    assert_eq!(
        rig.take_replies(),
        vec![],
        "the switch off waits for the log"
    );
    rig.settle();
    assert_eq!(
        rig.take_replies(),
        vec![Frame::ok(), Frame::ok(), Frame::ok()]
    );
    let rig = rig.restart(Config {
        appendonly: true,
        ..rdb_config("")
    });
    assert_eq!(
        rig.engine.keyspace().len(),
        3,
        "a, b, c: d came after the AOF was off"
    );
}

/// Found by the model checker (`always-toggle-aof`): turning the AOF back on at a clock that
/// gives the same second as the files the durable manifest names must not re-create them
/// (`Create` truncates; a crash before the new manifest is durable then loses acknowledged
/// writes). The new period's sequence numbers start above every file of this run.
#[test]
fn reenabling_the_aof_never_reuses_a_named_file() {
    let mut rig = Rig::start(config(FsyncPolicy::Always));
    rig.send(1, "SET a 1");
    rig.send(1, "CONFIG SET appendonly no");
    rig.settle();
    rig.send(1, "CONFIG SET appendonly yes");
    rig.settle();
    let manifest = rig
        .disk
        .contents("appendonlydir/appendonly.aof.manifest")
        .unwrap()
        .to_vec();
    assert_eq!(
        String::from_utf8_lossy(&manifest),
        String::from_utf8_lossy(&sealed(
            b"file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
        ))
    );
    let old = rig.disk.contents("appendonlydir/appendonly.aof.1.incr.aof");
    assert!(
        old.is_some_and(|b| !b.is_empty()),
        "the old incr file kept SET a 1"
    );
}

/// DEBUG POPULATE fills db 0 without logging (as Redis): a snapshot carries it.
#[test]
fn debug_populate_fills_without_logging() {
    let config = Config {
        enable_debug_command: crate::config::DebugAccess::Yes,
        ..rdb_config("")
    };
    let mut rig = Rig::start(config);
    rig.send(1, "DEBUG POPULATE 1000 key 100");
    rig.send(1, "SAVE");
    rig.settle();
    assert_eq!(rig.take_replies(), vec![Frame::ok(), Frame::ok()]);
    let rig = rig.restart(rdb_config(""));
    assert_eq!(rig.engine.keyspace().len(), 1000);
    let entry = rig.engine.keyspace().dbs[0].get(&b"key:7"[..]).unwrap();
    let crate::keyspace::Value::Str(v) = &entry.value else {
        panic!("not a string: {entry:?}")
    };
    assert_eq!((v.len(), &v[..7]), (100, &b"value:7"[..]));
}

/// A pre-7.0 single `appendonly.aof` (RDB preamble plus a RESP tail) is moved into the AOF
/// directory and named as the base by a manifest, then loaded; a crash after the move but
/// before the manifest finishes the upgrade on the next start.
#[test]
fn old_style_aof_is_upgraded_into_the_multi_part_layout() {
    let mut ks = Keyspace::new(16);
    let entry = crate::keyspace::Entry {
        value: crate::keyspace::Value::Str(Bytes::from_static(b"v1")),
        expire_at_ms: None,
    };
    ks.insert(0, Bytes::from_static(b"k1"), entry);
    let mut bytes = Vec::new();
    let info = crate::rdb::SaveInfo {
        aof_base: true,
        ctime_s: 0,
        used_mem: 0,
        compression: true,
        checksum: true,
    };
    crate::rdb::encode(&ks, &info, &mut bytes).unwrap();
    crate::aof::record::encode(&argv("SELECT 0"), &mut bytes);
    crate::aof::record::encode(&argv("SET k3 v3"), &mut bytes);
    let mut disk = SimDisk::new();
    disk.execute(&Op::Create {
        path: "appendonly.aof".into(),
    });
    disk.execute(&Op::Append {
        path: "appendonly.aof".into(),
        bytes: Bytes::from(bytes),
    });
    let mut interrupted = disk.clone();
    let rig = Rig::boot(config(FsyncPolicy::Always), disk, 0);
    assert_eq!(*rig.engine.phase(), Phase::Running, "{:?}", rig.logs);
    assert_eq!(rig.engine.keyspace().len(), 2);
    assert!(rig.disk.contents("appendonly.aof").is_none());
    assert_eq!(
        rig.disk
            .contents("appendonlydir/appendonly.aof.manifest")
            .unwrap(),
        sealed(b"file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n")
    );
    // Interrupted after the move, before the manifest.
    interrupted.execute(&Op::CreateDir {
        path: "appendonlydir".into(),
    });
    interrupted.execute(&Op::Rename {
        from: "appendonly.aof".into(),
        to: "appendonlydir/appendonly.aof".into(),
    });
    let rig = Rig::boot(config(FsyncPolicy::Always), interrupted, 0);
    assert_eq!(rig.engine.keyspace().len(), 2, "{:?}", rig.logs);
}

/// Temp files a crashed snapshot or rewrite left in `dir` are deleted at the next start.
#[test]
fn leftover_temp_files_are_removed_at_start() {
    let (mut disk, _) = disk_with_records(&["SET a 1"]);
    for name in ["temp-3.rdb", "temp-rewriteaof-bg-2.aof", "notes.txt"] {
        disk.execute(&Op::Create { path: name.into() });
    }
    let rig = Rig::boot(config(FsyncPolicy::Always), disk, 0);
    assert_eq!(*rig.engine.phase(), Phase::Running);
    assert!(rig.disk.contents("temp-3.rdb").is_none());
    assert!(rig.disk.contents("temp-rewriteaof-bg-2.aof").is_none());
    assert!(rig.disk.contents("notes.txt").is_some());
}

/// Issue 10's rotation defect: the rotation force-appends what is buffered and queues the old
/// file's fsync with durability credit up to the end of that append. If the append fails, the
/// fsync must not credit bytes that were never written (it used to trip an assert), the
/// rotation must not make the old file non-last, and no reply may claim the lost write.
#[test]
fn a_failed_append_at_the_start_of_a_rotation_fails_it_without_crediting_unwritten_bytes() {
    let mut rig = Rig::start(config(FsyncPolicy::Always));
    rig.send(1, "SET a 1");
    rig.settle();
    assert_eq!(rig.take_replies(), vec![Frame::ok()]);
    assert!(rig.engine.handle_rotate(rig.now_ms));
    rig.send(1, "SET b 2");
    rig.fail_next = Some("ENOSPC");
    rig.complete(|op| matches!(op, Op::Append { .. }));
    rig.settle();
    let (_, written, durable) = rig.engine.log_offsets().expect("log open");
    assert!(
        durable <= written,
        "durable {durable} beyond written {written}"
    );
    assert!(rig.take_replies().iter().all(|f| f != &Frame::ok()));
    assert!(rig.engine.aof_error().is_some(), "the failure is sticky");
    let rig = rig.restart(config(FsyncPolicy::Always));
    assert_eq!(*rig.engine.phase(), Phase::Running);
    assert_eq!(
        rig.engine.keyspace().dbs[0].len(),
        1,
        "only the acknowledged write"
    );
}

/// Issue 10's race (b): under everysec a background fsync of the current incr file can still
/// be in flight on the sync lane when a rewrite switches files and, once its base is in place,
/// deletes the old incr file. The late fsync must not turn into a spurious I/O error (a
/// sticky MISCONF nobody injected).
#[test]
fn a_background_fsync_in_flight_does_not_race_a_rewrite_into_a_spurious_error() {
    let mut rig = Rig::start(config(FsyncPolicy::Everysec));
    rig.send(1, "SET a 1");
    rig.complete(|op| matches!(op, Op::Append { .. }));
    rig.tick(1000);
    assert!(rig
        .pending
        .iter()
        .any(|e| e.lane == Lane::Sync && matches!(e.op, Op::Fsync { .. })));
    rig.send(1, "BGREWRITEAOF");
    // Everything but the background fsync completes: the rewrite runs to its end if it can.
    while rig.complete(|op| !matches!(op, Op::Fsync { .. })).is_some()
        || rig.complete_on(Lane::Log).is_some()
        || rig.complete_on(Lane::Worker).is_some()
    {}
    rig.settle();
    assert!(rig.engine.aof_error().is_none(), "{:?}", rig.logs);
    assert_eq!(
        rig.engine.rewrites().0,
        1,
        "the rewrite completed: {:?}",
        rig.logs
    );
}

/// Issue 10, checksummed AOF: a bit flipped in a batch that was written and fsynced (a disk
/// that lies after the fact) refuses start-up, naming the file, the offset and both checksums,
/// instead of loading a different value in silence.
#[test]
fn a_flipped_bit_in_a_synced_batch_refuses_with_both_checksums() {
    let (disk, _) = disk_with_records(&["SET a 1", "SET b 2"]);
    let full = disk.contents(INCR1).unwrap().to_vec();
    let value_at = full.windows(5).position(|w| w == b"\r\n1\r\n").unwrap() + 2;
    let mut flipped = full.clone();
    flipped[value_at] ^= 0x04; // "1" becomes "5": a record that still decodes
    let mut disk = disk.clone();
    disk.execute(&Op::Create { path: INCR1.into() });
    disk.execute(&Op::Append {
        path: INCR1.into(),
        bytes: Bytes::from(flipped),
    });
    let rig = Rig::boot(config(FsyncPolicy::Always), disk, 0);
    let Phase::Refused(e) = rig.engine.phase() else {
        panic!("a flipped bit must refuse, got {:?}", rig.engine.phase())
    };
    assert_eq!(e.file, INCR1);
    assert!(e.reason.contains("checksum mismatch"), "{e}");
    assert_eq!(e.reason.matches("crc64").count(), 1, "{e}");
    let first_line = full.windows(7).position(|w| w == b"#durakv").unwrap();
    assert!(first_line > value_at, "the flip is in the first batch");
    assert_eq!(e.offset, Some(first_line as u64), "{e}");
}

/// The manifest durakv writes for `text`: Redis's text and a checksum line over it.
fn sealed(text: &[u8]) -> Vec<u8> {
    crate::aof::manifest::Manifest::parse(text)
        .expect("a manifest")
        .encode_sealed()
}

/// A checksum line cut by a power loss is a torn tail: the records before it load, and
/// start-up seals them with a new line before making them durable (so a later flip in them is
/// refused, not loaded), and the file keeps loading across any number of restarts.
#[test]
fn a_torn_checksum_line_is_a_torn_tail_and_the_next_line_covers_its_records() {
    let (mut disk, _) = disk_with_records(&["SET a 1"]);
    let end = records_end(disk.contents(INCR1).unwrap());
    disk.execute(&Op::Truncate {
        path: INCR1.into(),
        len: end as u64 + 5,
    });
    let mut rig = Rig::boot(config(FsyncPolicy::Always), disk, 0);
    assert_eq!(*rig.engine.phase(), Phase::Running);
    let repaired = rig.disk.contents(INCR1).unwrap().to_vec();
    let seal = &repaired[end..];
    assert!(
        seal.starts_with(b"#durakv crc64=") && seal.ends_with(b"\r\n"),
        "line cut, then sealed"
    );
    assert!(
        rig.disk.is_quiescent(),
        "the seal is durable before serving"
    );
    rig.send(1, "SET b 2");
    rig.settle();
    let file = rig.disk.contents(INCR1).unwrap().to_vec();
    let rig = rig.restart(config(FsyncPolicy::Always));
    assert_eq!(*rig.engine.phase(), Phase::Running);
    assert_eq!(rig.engine.keyspace().len(), 2);
    let lines = file.windows(7).filter(|w| w == b"#durakv").count();
    assert_eq!(
        lines, 2,
        "the seal covers the first run's records, a line the second's"
    );
}

/// A file Redis wrote (no checksum lines) loads as before; durakv's first line then vouches
/// for Redis's bytes too, so a later flip in them is caught.
#[test]
fn records_without_checksum_lines_load_and_are_covered_by_the_next_line() {
    let (disk, _) = disk_with_records(&["SET a 1"]);
    let full = disk.contents(INCR1).unwrap().to_vec();
    let redis_style = full[..records_end(&full)].to_vec();
    let mut disk = disk.clone();
    disk.execute(&Op::Create { path: INCR1.into() });
    disk.execute(&Op::Append {
        path: INCR1.into(),
        bytes: Bytes::from(redis_style.clone()),
    });
    let mut rig = Rig::boot(config(FsyncPolicy::Always), disk, 0);
    assert_eq!(*rig.engine.phase(), Phase::Running);
    rig.send(1, "SET b 2");
    rig.settle();
    let mut flipped = rig.disk.contents(INCR1).unwrap().to_vec();
    let value_at = flipped.windows(5).position(|w| w == b"\r\n1\r\n").unwrap() + 2;
    let mut disk = rig.disk.clone();
    assert_eq!(
        Rig::boot(config(FsyncPolicy::Always), disk.clone(), 0)
            .engine
            .keyspace()
            .len(),
        2
    );
    flipped[value_at] ^= 0x04;
    disk.execute(&Op::Create { path: INCR1.into() });
    disk.execute(&Op::Append {
        path: INCR1.into(),
        bytes: Bytes::from(flipped),
    });
    let rig = Rig::boot(config(FsyncPolicy::Always), disk, 0);
    assert!(matches!(rig.engine.phase(), Phase::Refused(e) if e.reason.contains("checksum")));
}

/// Issue 10's race (a): a run's temp names repeat those of earlier runs (`temp-1.rdb`: the
/// generation restarts at 1; `temp-rewriteaof-bg-2.aof`: the next base of the same manifest).
/// If a BGSAVE or BGREWRITEAOF could start while the start-up cleanup still deletes a leftover
/// of that name, the delete would remove the new temp file under it: a spurious ENOENT. The
/// adversarial order: the cleanup lists the leftover, the command starts and creates its temp
/// file, then the cleanup's delete runs. It must end without an error nobody injected.
#[test]
fn a_background_save_right_after_start_never_loses_its_temp_file_to_the_cleanup() {
    let cases = [
        (rdb_config(""), "BGSAVE", "temp-1.rdb"),
        (
            config(FsyncPolicy::Always),
            "BGREWRITEAOF",
            "temp-rewriteaof-bg-2.aof",
        ),
    ];
    for (config, command, leftover) in cases {
        let mut disk = SimDisk::new();
        disk.execute(&Op::Create {
            path: leftover.into(),
        });
        let mut rig = Rig {
            engine: Engine::new(config, 0),
            disk,
            now_ms: 0,
            pending: VecDeque::new(),
            replies: Vec::new(),
            logs: Vec::new(),
            fail_next: None,
        };
        let is_list = |op: &Op| matches!(op, Op::List { path } if path.is_empty());
        // Start-up up to the cleanup's list; the command arrives as soon as it can be sent.
        while rig.complete(|op| !is_list(op)).is_some() {}
        rig.send(1, command);
        rig.complete(is_list);
        rig.complete_on(Lane::Worker);
        rig.settle();
        if matches!(rig.take_replies()[0], Frame::Error(_)) {
            // Refused while still starting: once serving, it runs.
            assert_eq!(*rig.engine.phase(), Phase::Running);
            rig.send(1, command);
            rig.settle();
        }
        let errors: Vec<&String> = rig.logs.iter().filter(|l| l.contains("rror")).collect();
        assert!(errors.is_empty(), "{command}: {errors:?}");
        assert!(
            rig.disk.contents(leftover).is_none(),
            "{command}: {:?}",
            rig.logs
        );
        let (_, done) = rig.engine.snapshot_generations();
        assert!(
            done == 1 || rig.engine.rewrites().0 == 1,
            "{command}: {:?}",
            rig.logs
        );
    }
}

/// Issue 10, found by `always-fail-rotation`: a switch whose manifest was renamed in but
/// whose directory fsync failed used to resume appends in the old file, which a crash keeping
/// the new manifest makes non-last: its torn tail then refuses start-up. The switch now
/// stands, the log fails (MISCONF) and its retry redoes the directory fsync before anything is
/// appended to the new file.
#[test]
fn a_failed_directory_fsync_after_the_manifest_rename_keeps_the_switch() {
    const INCR2: &str = "appendonlydir/appendonly.aof.2.incr.aof";
    let mut rig = Rig::start(config(FsyncPolicy::Always));
    rig.send(1, "SET a 1");
    rig.settle();
    assert!(rig.engine.handle_rotate(rig.now_ms));
    let is_dir_fsync = |op: &Op| matches!(op, Op::FsyncDir { path } if path == "appendonlydir");
    while rig.complete(|op| !is_dir_fsync(op)).is_some() {}
    rig.fail_next = Some("EIO");
    assert!(rig.complete(is_dir_fsync).is_some());
    rig.take_replies();
    rig.send(1, "SET b 2");
    let mut appends = Vec::new();
    while let Some(op) = rig.complete(|_| true) {
        appends.extend(matches!(op, Op::Append { .. }).then(|| op.describe()));
    }
    assert!(
        matches!(&rig.take_replies()[..], [Frame::Error(e)] if e.starts_with("MISCONF")),
        "nothing is acknowledged before the directory is durable"
    );
    rig.tick(1000);
    rig.settle();
    assert!(rig.engine.aof_error().is_none(), "{:?}", rig.logs);
    rig.send(1, "SET c 3");
    while let Some(op) = rig.complete(|_| true) {
        appends.extend(matches!(op, Op::Append { .. }).then(|| op.describe()));
    }
    assert_eq!(rig.take_replies(), vec![Frame::ok()]);
    assert!(
        !appends.is_empty() && appends.iter().all(|a| a.ends_with(INCR2)),
        "{appends:?}"
    );
    let rig = rig.restart(config(FsyncPolicy::Always));
    assert_eq!(*rig.engine.phase(), Phase::Running);
    // a and c; b was refused with MISCONF, never applied.
    assert_eq!(rig.engine.keyspace().dbs[0].len(), 2, "{:?}", rig.logs);
}

/// Found by `no-fail-shutdown`: under `no` only the in-flight append is retained, so the retry
/// after a failed fsync (here the one shutdown forces) cannot start from the last durable
/// offset; it used to trip "the retained bytes cover the retry". It now retries from what it
/// holds, and the shutdown reports the failure.
#[test]
fn a_failed_fsync_under_no_retries_from_what_it_retained() {
    let mut rig = Rig::start(config(FsyncPolicy::No));
    rig.send(1, "SET a 1");
    rig.settle();
    rig.engine.handle_shutdown(rig.now_ms);
    rig.pump();
    rig.fail_next = Some("EIO");
    assert!(rig.complete(|op| matches!(op, Op::Fsync { .. })).is_some());
    rig.settle();
    assert_eq!(*rig.engine.phase(), Phase::Stopped);
    assert!(rig
        .logs
        .iter()
        .any(|l| l.contains("Could not persist the AOF")));
    rig.tick(1000);
    rig.settle();
}

/// Found by the shutdown configuration with failures anywhere: a killed run leaves writes only
/// in the page cache; start-up's fsync of them fails (dropping their write-back). Refusing used
/// to lead the next start to read them from the page cache again, fsync with success and serve
/// data the disk did not hold, lost at the next power loss. Start-up now rebuilds the AOF from
/// memory into new files and deletes the suspect ones.
#[test]
fn a_failed_fsync_while_opening_rebuilds_the_aof_from_memory() {
    let (mut disk, _) = disk_with_records(&["SET a 1", "SET b 2"]);
    let incr = disk.contents(INCR1).expect("incr").to_vec();
    // The records reached only the page cache: write them again, un-synced.
    disk.execute(&Op::Truncate {
        path: INCR1.into(),
        len: 0,
    });
    disk.execute(&Op::Fsync { path: INCR1.into() });
    disk.execute(&Op::Append {
        path: INCR1.into(),
        bytes: Bytes::from(incr),
    });
    let mut rig = Rig {
        engine: Engine::new(config(FsyncPolicy::Everysec), 0),
        disk,
        now_ms: 0,
        pending: VecDeque::new(),
        replies: Vec::new(),
        logs: Vec::new(),
        fail_next: None,
    };
    let is_incr_fsync = |op: &Op| matches!(op, Op::Fsync { path } if path == INCR1);
    while rig.complete(|op| !is_incr_fsync(op)).is_some() {}
    let op = rig
        .pending
        .iter()
        .find(|e| is_incr_fsync(&e.op))
        .map(|e| e.op.clone());
    rig.fail_next = Some("EIO");
    let failed = op.expect("start-up fsyncs the incr file it read");
    rig.disk.fail(&failed);
    rig.complete(is_incr_fsync);
    rig.settle();
    assert_eq!(*rig.engine.phase(), Phase::Running, "{:?}", rig.logs);
    assert!(
        rig.disk.contents(INCR1).is_none(),
        "the suspect file is gone"
    );
    // Power loss now: only what is durable survives, and it holds both keys.
    let crashed = rig.disk.crash(&crate::sim::Crash {
        dir_ops_kept: 0,
        dropped: Vec::new(),
        files: Vec::new(),
    });
    let rig = Rig::boot(config(FsyncPolicy::Everysec), crashed, 0);
    assert_eq!(rig.engine.keyspace().dbs[0].len(), 2, "{:?}", rig.logs);
}
