//! Executes the engine's file effects against real files under `dir`: the AOF's appends and
//! its log-lane fsyncs inline on the caller's thread (the event loop, as Redis writes and,
//! under `always`, fsyncs the AOF in `beforeSleep`), every other effect on one OS thread per
//! lane (everysec's background fsync, views, file procedures, loading).
//!
//! Owns the lane threads and the open append handles; decides nothing. The engine chose the
//! order, the lane and every fsync; this module is the `Op`-to-syscall table.
//!
//! Invariants:
//! - a log-lane effect runs inline only when nothing submitted to that lane before it is still
//!   unseen by the caller (queued, running, or completed but not drained), so the lane's
//!   effects still run, and complete, in the engine's order ([`InlineLane`]); views, file
//!   procedures and everysec's fsync never run inline;
//! - every effect submitted gets exactly one [`IoDone`] with its id, in lane order; an OS error
//!   is an [`IoResult::Failed`] carrying the errno name and the OS message, never a panic;
//! - `Append` writes the whole buffer (looping over short writes and EINTR) or fails;
//! - a cached append handle is only used while the names in `dir` still mean the files they
//!   meant when it was opened: any rename or delete, on any lane, invalidates every cache;
//! - every call that changes a file or a name, or makes one durable, goes through the
//!   [`Syscalls`] seam (`Os` in the server), so a test can record exactly what was called.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, ErrorKind, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use bytes::Bytes;
use model::io::{Effect, EffectId, IoDone, IoError, IoResult, Lane, Op, Owner, ViewWriter};

use crate::inline_lane::InlineLane;
use crate::io_queue::{Completions, LaneQueue, Wake};
use crate::sync::Arc;
use crate::syscalls::{write_all, Os, Syscalls};

/// Buffer between the view serialiser and the file: large writes, few syscalls.
const VIEW_BUFFER_BYTES: usize = 1 << 20;

const LANES: [(Lane, &str); 3] = [
    (Lane::Log, "durakv-log"),
    (Lane::Sync, "durakv-sync"),
    (Lane::Worker, "durakv-worker"),
];

/// The three lane threads, the queues that feed them, and the inline appender; every
/// state-changing call goes through `S` (the operating system itself in the server).
pub(crate) struct FileWorkers<W: Wake + 'static, S: Syscalls = Os> {
    lanes: Vec<Arc<LaneQueue<Effect>>>,
    threads: Vec<JoinHandle<()>>,
    completions: Arc<Completions<IoDone, W>>,
    /// The caller's own executor, for appends written inline.
    inline: Fs<S>,
    abort: Arc<AbortHook>,
    /// The log lane's split between the caller's thread and the lane's thread.
    log: InlineLane<EffectId>,
    /// The log lane's effects of the current turn, in order (kept for its allocation).
    turn: Vec<(EffectId, Effect, bool)>,
}

impl<W: Wake + 'static> FileWorkers<W> {
    /// Starts one thread per lane, executing effects against `dir`.
    pub(crate) fn start(dir: &Path, waker: W) -> io::Result<Self> {
        FileWorkers::start_with(dir, waker, Os)
    }
}

impl<W: Wake + 'static, S: Syscalls> FileWorkers<W, S> {
    /// Starts one thread per lane, executing effects against `dir` through `sys`.
    pub(crate) fn start_with(dir: &Path, waker: W, sys: S) -> io::Result<Self> {
        let completions = Arc::new(Completions::new(waker));
        let renames = Arc::new(AtomicU64::new(0));
        let abort = Arc::new(AbortHook::from_env());
        let mut workers = FileWorkers {
            lanes: Vec::new(),
            threads: Vec::new(),
            completions,
            inline: Fs::new(dir.to_path_buf(), renames.clone(), sys.clone()),
            abort: abort.clone(),
            log: InlineLane::new(),
            turn: Vec::new(),
        };
        for (_, name) in LANES {
            let queue: Arc<LaneQueue<Effect>> = Arc::new(LaneQueue::new());
            let mut fs = Fs::new(dir.to_path_buf(), renames.clone(), sys.clone());
            let (thread_queue, done) = (queue.clone(), workers.completions.clone());
            let abort = abort.clone();
            let thread = std::thread::Builder::new()
                .name(name.to_string())
                .spawn(move || {
                    // The loop loom checks (`io_queue::serve`): in order, and one wake-up of
                    // the driver per batch (when the lane runs dry).
                    crate::io_queue::serve(&thread_queue, &done, |effect: Effect| {
                        abort.check(&effect.op);
                        IoDone {
                            id: effect.id,
                            result: fs.execute(effect.op),
                        }
                    });
                })?;
            workers.lanes.push(queue);
            workers.threads.push(thread);
        }
        Ok(workers)
    }

    /// Executes one turn's effects, in the engine's order: the AOF's appends and fsyncs inline
    /// when the log lane allows (see [`InlineLane`]), their completions appended to `done`;
    /// everything else is queued on its lane.
    pub(crate) fn submit(
        &mut self,
        effects: impl IntoIterator<Item = Effect>,
        done: &mut Vec<IoDone>,
    ) {
        for effect in effects {
            if effect.lane == Lane::Log {
                let inline = may_run_inline(&effect);
                self.turn.push((effect.id, effect, inline));
            } else {
                queue(&self.lanes, &self.completions, effect);
            }
        }
        let FileWorkers {
            lanes,
            completions,
            inline,
            abort,
            log,
            turn,
            ..
        } = self;
        let run_inline = |effect: Effect| {
            abort.check(&effect.op);
            IoDone {
                id: effect.id,
                result: inline.execute(effect.op),
            }
        };
        log.submit(
            turn.drain(..),
            run_inline,
            |effect| queue(lanes, completions, effect),
            done,
        );
    }

    pub(crate) fn completions(&self) -> &Completions<IoDone, W> {
        &self.completions
    }

    /// Moves every completion published so far to `out`, oldest first.
    pub(crate) fn drain_into(&mut self, out: &mut Vec<IoDone>) {
        let from = out.len();
        self.completions.drain_into(out);
        if !self.log.is_idle() {
            for done in &out[from..] {
                self.log.seen(&done.id);
            }
        }
    }
}

/// Whether a log-lane effect may run on the event loop's thread: the AOF's appends and its
/// own fsyncs (under `always`, and the last one at shutdown), as Redis's `beforeSleep` writes
/// and, under `always`, fsyncs. Measured: with the `always` fsync on the lane's thread, SET
/// `-c 50` got 5-6k ops/s where inline got 17-24k (Redis 15-18k, same disk): a thread lets
/// the loop issue the next fsync for whatever trickled in first (often one record), while a
/// loop blocked in fdatasync finds every request that arrived meanwhile in the next turn and
/// covers them all with one write and one fsync. Procedure steps (renames, a new base's fsync)
/// and everysec's background fsync (the sync lane) stay off the loop.
fn may_run_inline(effect: &Effect) -> bool {
    match effect.op {
        Op::Append { .. } => true,
        Op::Fsync { .. } => effect.id.owner == Owner::AofLog,
        _ => false,
    }
}

/// Queues `effect` on its lane's thread.
fn queue<W: Wake>(
    lanes: &[Arc<LaneQueue<Effect>>],
    completions: &Completions<IoDone, W>,
    effect: Effect,
) {
    let index = LANES
        .iter()
        .position(|(lane, _)| *lane == effect.lane)
        .unwrap_or(0);
    if let Err(effect) = lanes[index].push(effect) {
        // Only after `close`; answer anyway so the engine never waits forever.
        let error = IoError {
            kind: "ESHUTDOWN".into(),
            message: "file worker stopped".into(),
        };
        completions.push(IoDone {
            id: effect.id,
            result: IoResult::Failed(error),
        });
    }
}

/// One lane's executor: syscalls for effects, with append handles (also used to fsync) kept
/// open.
struct Fs<S: Syscalls> {
    sys: S,
    dir: PathBuf,
    appenders: HashMap<String, File>,
    /// Count of renames and deletes done by any lane; `renames_seen` is the count when the
    /// cached handles were last known valid.
    renames: Arc<AtomicU64>,
    renames_seen: u64,
}

impl<S: Syscalls> Fs<S> {
    fn new(dir: PathBuf, renames: Arc<AtomicU64>, sys: S) -> Self {
        Fs {
            sys,
            dir,
            appenders: HashMap::new(),
            renames,
            renames_seen: 0,
        }
    }

    fn execute(&mut self, op: Op) -> IoResult {
        match self.run(op) {
            Ok(result) => result,
            Err(error) => IoResult::Failed(io_error(&error)),
        }
    }

    fn run(&mut self, op: Op) -> io::Result<IoResult> {
        match op {
            Op::Read {
                path,
                offset,
                len_max,
            } => read(&self.path(&path), offset, len_max),
            Op::List { path } => list(&self.path(&path)),
            Op::CreateDir { path } => create_dir(&self.sys, &self.path(&path)),
            Op::Create { path } => {
                self.sys.create(&self.path(&path))?;
                Ok(IoResult::Done)
            }
            Op::Append { path, bytes } => self.append(path, &bytes),
            Op::Fsync { path } => self.fsync(&path),
            Op::FsyncDir { path } => fsync_dir(&self.sys, &self.path(&path)),
            Op::Rename { from, to } => {
                self.names_changed();
                self.sys.rename(&self.path(&from), &self.path(&to))?;
                Ok(IoResult::Done)
            }
            Op::Delete { path } => {
                self.names_changed();
                delete(&self.sys, &self.path(&path))
            }
            Op::Truncate { path, len } => {
                self.sys.truncate(&self.path(&path), len)?;
                Ok(IoResult::Done)
            }
            Op::WriteView { path, view } => write_view(&self.sys, &self.path(&path), &view),
        }
    }

    fn path(&self, relative: &str) -> PathBuf {
        if relative.is_empty() {
            self.dir.clone()
        } else {
            self.dir.join(relative)
        }
    }

    /// Called before a rename or delete: every lane's cached handles may now name other files.
    fn names_changed(&mut self) {
        self.renames.fetch_add(1, Ordering::SeqCst);
    }

    /// The open append handle for `path`, opening it if needed.
    fn appender(&mut self, path: &str) -> io::Result<&mut File> {
        let renames = self.renames.load(Ordering::SeqCst);
        if renames != self.renames_seen {
            self.appenders.clear();
            self.renames_seen = renames;
        }
        if !self.appenders.contains_key(path) {
            // No O_CREAT: the engine creates its files explicitly; a missing one is an error.
            let file = self.sys.open_append(&self.path(path))?;
            self.appenders.insert(path.to_string(), file);
        }
        self.appenders
            .get_mut(path)
            .ok_or_else(|| io::Error::from(ErrorKind::NotFound))
    }

    fn append(&mut self, path: String, bytes: &Bytes) -> io::Result<IoResult> {
        let sys = self.sys.clone();
        let result = write_all(&sys, self.appender(&path)?, bytes);
        if let Err(error) = result {
            // Reopen next time: the handle may be in an unknown state after a failed write.
            self.appenders.remove(&path);
            return Err(enospc_on_zero_write(error));
        }
        Ok(IoResult::Done)
    }

    fn fsync(&mut self, path: &str) -> io::Result<IoResult> {
        // fdatasync acts on the inode, so any descriptor of the file will do: the cached one
        // (valid while no name changed, see `appender`) saves an open, a path walk and a close
        // per fsync.
        let sys = self.sys.clone();
        let result = sys.sync_data(self.appender(path)?);
        if let Err(error) = result {
            self.appenders.remove(path);
            return Err(error);
        }
        Ok(IoResult::Done)
    }
}

fn read(path: &Path, offset: u64, len_max: u64) -> io::Result<IoResult> {
    let file = match File::open(path) {
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(IoResult::NotFound),
        other => other?,
    };
    let len = file.metadata()?.len();
    // Allocate what the file holds, not what the engine allows: `len_max` may be large.
    let want = len_max.min(len.saturating_sub(offset));
    let mut bytes =
        vec![0u8; usize::try_from(want).map_err(|_| io::Error::from(ErrorKind::OutOfMemory))?];
    let mut filled = 0usize;
    while filled < bytes.len() {
        match file.read_at(&mut bytes[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        }
    }
    let eof = filled < bytes.len() || offset + filled as u64 >= len;
    bytes.truncate(filled);
    Ok(IoResult::Read {
        bytes: Bytes::from(bytes),
        eof,
    })
}

fn list(path: &Path) -> io::Result<IoResult> {
    let entries = match std::fs::read_dir(path) {
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(IoResult::NotFound),
        other => other?,
    };
    let mut names = Vec::new();
    for entry in entries {
        names.push(entry?.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(IoResult::Listed { names })
}

fn create_dir<S: Syscalls>(sys: &S, path: &Path) -> io::Result<IoResult> {
    match sys.mkdir(path) {
        Err(error) if error.kind() == ErrorKind::AlreadyExists && path.is_dir() => {
            Ok(IoResult::Done)
        }
        other => other.map(|()| IoResult::Done),
    }
}

fn fsync_dir<S: Syscalls>(sys: &S, path: &Path) -> io::Result<IoResult> {
    match sys.sync_dir(path) {
        // As Redis's fsyncFileDir: some file systems cannot fsync a directory.
        Err(error) if matches!(error.raw_os_error(), Some(EBADF | EINVAL)) => Ok(IoResult::Done),
        other => other.map(|()| IoResult::Done),
    }
}

fn delete<S: Syscalls>(sys: &S, path: &Path) -> io::Result<IoResult> {
    match sys.unlink(path) {
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(IoResult::Done),
        other => other.map(|()| IoResult::Done),
    }
}

/// Runs the engine's serialiser into the file, on this (worker) thread: the bytes stream out
/// through the buffer in chunks, so memory stays bounded however large the view.
fn write_view<S: Syscalls>(sys: &S, path: &Path, view: &ViewWriter) -> io::Result<IoResult> {
    let file = IncrementalSync {
        sys,
        file: sys.create(path)?,
        unsynced: 0,
    };
    let mut out = BufWriter::with_capacity(VIEW_BUFFER_BYTES, file);
    let len = view.write_to(&mut out).map_err(enospc_on_zero_write)?;
    let sync = out
        .into_inner()
        .map_err(|error| enospc_on_zero_write(error.into_error()))?;
    // Not required by the engine (it fsyncs the file next), but it keeps the later fsync short.
    sys.sync_data(&sync.file)?;
    Ok(IoResult::Written { len })
}

/// Redis's `aof-rewrite-incremental-fsync` / `rdb-save-incremental-fsync` (both on by
/// default): a view being written is fdatasynced every 4 MB, so dirty pages never pile up and
/// the engine's final fsync of the file is short. Durability does not depend on it.
struct IncrementalSync<'s, S: Syscalls> {
    sys: &'s S,
    file: File,
    unsynced: u64,
}

/// Redis 7.0's `REDIS_AUTOSYNC_BYTES`.
const AUTOSYNC_BYTES: u64 = 4 << 20;

impl<S: Syscalls> Write for IncrementalSync<'_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.sys.write(&mut self.file, buf)?;
        self.unsynced += n as u64;
        if self.unsynced >= AUTOSYNC_BYTES {
            self.sys.sync_data(&self.file)?;
            self.unsynced = 0;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// `write_all` reports a write that made no progress as `WriteZero`; the OS reason for that
/// on a regular file is a full disk, which is what Redis reports too.
fn enospc_on_zero_write(error: io::Error) -> io::Error {
    if error.kind() == ErrorKind::WriteZero {
        io::Error::from_raw_os_error(ENOSPC)
    } else {
        error
    }
}

const EBADF: i32 = 9;
const EINVAL: i32 = 22;
const ENOSPC: i32 = 28;

/// The errno name and OS message, as Redis logs them (`strerror`, without Rust's suffix).
pub(crate) fn io_error(error: &io::Error) -> IoError {
    let Some(code) = error.raw_os_error() else {
        return IoError {
            kind: format!("{:?}", error.kind()),
            message: error.to_string(),
        };
    };
    let text = error.to_string();
    let message = match text.rfind(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    };
    IoError {
        kind: errno_name(code),
        message,
    }
}

fn errno_name(code: i32) -> String {
    let name = match code {
        1 => "EPERM",
        2 => "ENOENT",
        4 => "EINTR",
        5 => "EIO",
        9 => "EBADF",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        16 => "EBUSY",
        17 => "EEXIST",
        18 => "EXDEV",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        23 => "ENFILE",
        24 => "EMFILE",
        27 => "EFBIG",
        28 => "ENOSPC",
        30 => "EROFS",
        36 => "ENAMETOOLONG",
        39 => "ENOTEMPTY",
        122 => "EDQUOT",
        _ => return format!("E{code}"),
    };
    name.to_string()
}

/// Test-only crash hook: with `DURAKV_TEST_ABORT_BEFORE=<text>#<n>` in the environment, the
/// process aborts (like kill -9: no cleanup, no flush) just before executing the n-th effect
/// whose description contains <text> — how the process tests stop the server at each step of a
/// rewrite. Without the variable it does nothing (one branch per effect).
struct AbortHook {
    target: Option<(String, u64)>,
    seen: AtomicU64,
}

impl AbortHook {
    fn from_env() -> AbortHook {
        let target = std::env::var("DURAKV_TEST_ABORT_BEFORE")
            .ok()
            .and_then(|spec| {
                let (text, n) = spec.rsplit_once('#')?;
                Some((text.to_string(), n.parse().ok()?))
            });
        AbortHook {
            target,
            seen: AtomicU64::new(0),
        }
    }

    fn check(&self, op: &Op) {
        let Some((text, n)) = &self.target else {
            return;
        };
        if op.describe().contains(text.as_str())
            && self.seen.fetch_add(1, Ordering::SeqCst) + 1 == *n
        {
            eprintln!(
                "DURAKV_TEST_ABORT_BEFORE: aborting before `{}`",
                op.describe()
            );
            std::process::abort();
        }
    }
}
