//! The file-system calls that change what a crash can leave, as one seam: [`Syscalls`] is what
//! the file workers (`fs.rs`) call for every create, write, fdatasync, directory fsync,
//! rename, unlink, truncate and mkdir, and [`Os`] is the production implementation (plain
//! `std` calls, inlined: the seam costs nothing in the server).
//!
//! Why a seam: `tests/tests/conformance_crash.rs` interposes a recording implementation to
//! learn exactly which calls the real worker code made, in which order, on which inode, and
//! "cuts power" by replaying only what a crash may keep. Invariant: every call of `fs.rs` that
//! changes the directory or a file's bytes, or makes either durable, goes through this trait;
//! reads, listings and `open` for appending (which changes nothing) may go around it, except
//! that append handles are opened here too so a recorder can see which inode a name meant.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// The state-changing file-system calls of the file workers. Each lane thread owns a clone.
pub trait Syscalls: Clone + Send + 'static {
    /// mkdir(2).
    fn mkdir(&self, path: &Path) -> io::Result<()>;
    /// open(2) with `O_WRONLY | O_CREAT | O_TRUNC`.
    fn create(&self, path: &Path) -> io::Result<File>;
    /// open(2) with `O_WRONLY | O_APPEND`, no `O_CREAT`.
    fn open_append(&self, path: &Path) -> io::Result<File>;
    /// One write(2) at the handle's position (the end, for an append handle).
    fn write(&self, file: &mut File, buf: &[u8]) -> io::Result<usize>;
    /// fdatasync(2).
    fn sync_data(&self, file: &File) -> io::Result<()>;
    /// open(2) of a directory, then fsync(2) of it.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// rename(2).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// unlink(2).
    fn unlink(&self, path: &Path) -> io::Result<()>;
    /// open(2) for writing, then ftruncate(2).
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;
}

/// The operating system itself: what the server runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Os;

impl Syscalls for Os {
    #[inline]
    fn mkdir(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir(path)
    }

    #[inline]
    fn create(&self, path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .read(false)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
    }

    #[inline]
    fn open_append(&self, path: &Path) -> io::Result<File> {
        OpenOptions::new().append(true).open(path)
    }

    #[inline]
    fn write(&self, file: &mut File, buf: &[u8]) -> io::Result<usize> {
        file.write(buf)
    }

    #[inline]
    fn sync_data(&self, file: &File) -> io::Result<()> {
        file.sync_data()
    }

    #[inline]
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        File::open(path)?.sync_all()
    }

    #[inline]
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    #[inline]
    fn unlink(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    #[inline]
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        OpenOptions::new().write(true).open(path)?.set_len(len)
    }
}

/// `write_all` over [`Syscalls::write`]: loops over short writes and EINTR; a write that
/// makes no progress is `WriteZero` (the caller maps it to ENOSPC).
pub(crate) fn write_all<S: Syscalls>(sys: &S, file: &mut File, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match sys.write(file, buf) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(n) => buf = &buf[n..],
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        }
    }
    Ok(())
}
