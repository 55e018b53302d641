//! Reading and damaging the files a server leaves in its `dir`, for recovery tests.
//!
//! Owns nothing but paths and bytes. Record boundaries come from the engine's own AOF decoder
//! (`model::aof::record::decode`), so a test cuts exactly where a record ends or inside one.

use std::path::{Path, PathBuf};

use model::aof::manifest::Manifest;
use model::aof::record::{decode, Decoded};

/// The default AOF directory and manifest names.
pub const AOF_DIR: &str = "appendonlydir";
pub const MANIFEST: &str = "appendonly.aof.manifest";

/// The parsed manifest of the AOF in `dir`.
pub fn manifest(dir: &Path) -> Manifest {
    let bytes = std::fs::read(dir.join(AOF_DIR).join(MANIFEST)).expect("manifest readable");
    Manifest::parse(&bytes).expect("manifest well formed")
}

/// The path of the last incr file the manifest names (the one a crash can tear).
pub fn last_incr(dir: &Path) -> PathBuf {
    let manifest = manifest(dir);
    let last = manifest.incrs.last().expect("manifest names an incr file");
    dir.join(AOF_DIR).join(&last.name)
}

/// The base file the manifest names.
pub fn base(dir: &Path) -> PathBuf {
    let manifest = manifest(dir);
    let base = manifest.base.expect("manifest names a base");
    dir.join(AOF_DIR).join(&base.name)
}

/// One whole AOF record: where it ends and its arguments.
#[derive(Clone, Debug)]
pub struct Record {
    pub start: u64,
    pub end: u64,
    pub argv: Vec<bytes::Bytes>,
}

/// Every whole command record of a RESP AOF file, in order. Panics on damage: the tests call it
/// on files the server wrote.
pub fn records(bytes: &[u8]) -> Vec<Record> {
    let mut at = 0usize;
    let mut out = Vec::new();
    loop {
        match decode(&bytes[at..]) {
            Decoded::Command { argv, len } => {
                out.push(Record {
                    start: at as u64,
                    end: (at + len) as u64,
                    argv,
                });
                at += len;
            }
            Decoded::Annotation { len } => at += len,
            Decoded::Incomplete if at == bytes.len() => return out,
            other => panic!("unexpected AOF content at {at}: {other:?}"),
        }
    }
}

/// Byte ranges (start, end) of the `#` lines (annotations, durakv's checksum lines).
pub fn annotation_lines(bytes: &[u8]) -> Vec<(u64, u64)> {
    let mut at = 0usize;
    let mut out = Vec::new();
    loop {
        match decode(&bytes[at..]) {
            Decoded::Command { len, .. } => at += len,
            Decoded::Annotation { len } => {
                out.push((at as u64, (at + len) as u64));
                at += len;
            }
            _ => return out,
        }
    }
}

/// Copies a server directory (files and one level of subdirectories, as the AOF layout has).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create copy");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}
