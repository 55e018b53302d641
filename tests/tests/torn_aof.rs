//! Recovery from a torn or damaged AOF, on files a real server wrote.
//!
//! Goal: the contract's "recovery never starts empty or half-loaded in silence". A tail torn
//! at any byte of the last incr file loads exactly the whole records before the cut and cuts
//! the file back to them (`aof-load-truncated yes`), or refuses (`no`); a zero-filled tail is
//! a torn tail; a damaged byte anywhere else refuses to start, naming the file and the offset.
//!
//! Method: a server writes known records (`SET k{i} v{i}`) under `always` and stops. For each
//! case a copy of its directory is damaged, a server is started on the copy, and its data set,
//! its exit status, its stderr and the file length afterwards are checked.

use std::path::Path;

use durakv_tests::client::{bulk, integer};
use durakv_tests::files::{self, Record};
use durakv_tests::ServerProcess;

const KEYS: usize = 20;
/// The last records whose every byte offset is cut.
const TORN_RECORDS: usize = 3;

/// A directory holding `SET k0 v0 ...` in its last incr file; returns it and the records.
fn written_dir() -> (tempfile::TempDir, Vec<Record>) {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(dir.path(), &["--appendfsync", "always"]);
    let mut con = server.client();
    for i in 0..KEYS {
        let written = value(i);
        assert_eq!(
            con.call_str(&["SET", &format!("k{i}"), &written]).unwrap(),
            model::resp::Frame::ok()
        );
    }
    assert!(
        server.stop().success(),
        "graceful stop:\n{}",
        server.stderr()
    );
    let records = files::records(&std::fs::read(files::last_incr(dir.path())).unwrap());
    let sets = records
        .iter()
        .filter(|r| r.argv[0].as_ref() == b"SET")
        .count();
    assert_eq!(
        sets, KEYS,
        "the incr file holds one record per SET: {records:?}"
    );
    (dir, records)
}

/// A copy of `original` whose last incr file is replaced by `bytes`.
fn damaged_copy(original: &Path, bytes: &[u8]) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    files::copy_dir(original, copy.path());
    std::fs::write(files::last_incr(copy.path()), bytes).unwrap();
    copy
}

/// The value `SET k{i}` wrote: lengths differ, so records differ in size.
fn value(i: usize) -> String {
    format!("v{i}-{}", "x".repeat(i % 7))
}

/// Exactly the keys `k0..k{count}` exist, each with the value written, and nothing else.
fn assert_keys(server: &ServerProcess, count: usize, context: &str) {
    let mut con = server.client();
    let size = integer(&con.call_str(&["DBSIZE"]).unwrap()) as usize;
    assert_eq!(size, count, "{context}: DBSIZE");
    for i in 0..KEYS {
        let got = bulk(&con.call_str(&["GET", &format!("k{i}")]).unwrap());
        let expected = (i < count).then(|| value(i));
        assert_eq!(
            got.as_deref(),
            expected.as_ref().map(|v| v.as_bytes()),
            "{context}: k{i}"
        );
    }
}

/// Whole SET records ending at or before `cut`, and the end of the last whole record or `#`
/// line (durakv's checksum lines) before it.
fn whole_before(records: &[Record], lines: &[(u64, u64)], cut: u64) -> (usize, u64) {
    let whole: Vec<&Record> = records.iter().filter(|r| r.end <= cut).collect();
    let sets = whole
        .iter()
        .filter(|r| r.argv[0].as_ref() == b"SET")
        .count();
    let line_end = lines.iter().map(|l| l.1).filter(|&end| end <= cut).max();
    let record_end = whole.last().map_or(0, |r| r.end);
    (sets, record_end.max(line_end.unwrap_or(0)))
}

/// Every byte offset of the last few records, with `aof-load-truncated yes`.
#[test]
fn torn_tail_at_every_offset_loads_the_whole_records() {
    let (dir, records) = written_dir();
    let bytes = std::fs::read(files::last_incr(dir.path())).unwrap();
    let lines = files::annotation_lines(&bytes);
    assert!(!lines.is_empty(), "durakv writes checksum lines");
    let first_cut = records[records.len() - TORN_RECORDS].start;
    let mut starts = 0;
    for cut in first_cut..=bytes.len() as u64 {
        let copy = damaged_copy(dir.path(), &bytes[..cut as usize]);
        let server = ServerProcess::start(copy.path(), &["--aof-load-truncated", "yes"]);
        let (sets, good) = whole_before(&records, &lines, cut);
        assert_keys(&server, sets, &format!("cut at {cut}"));
        let after = std::fs::read(files::last_incr(copy.path())).unwrap();
        let line_end = lines.iter().map(|l| l.1).filter(|&end| end <= cut).max();
        // Whole records after the last whole checksum line are sealed by a new line at
        // start-up, before they are made durable.
        let seal = &after[(good as usize).min(after.len())..];
        if good > line_end.unwrap_or(0) {
            assert!(
                seal.starts_with(b"#durakv crc64=") && seal.ends_with(b"\r\n"),
                "cut at {cut}: the records after the last line are sealed"
            );
        } else {
            assert!(
                seal.is_empty(),
                "cut at {cut}: truncated to the last whole record"
            );
        }
        assert_eq!(
            &after[..good as usize],
            &bytes[..good as usize],
            "cut at {cut}: the file must be truncated to the last whole record"
        );
        if cut != good {
            assert!(
                server.stderr().contains(&good.to_string()),
                "cut at {cut}: log names the offset:\n{}",
                server.stderr()
            );
        }
        starts += 1;
    }
    println!("torn tail: {starts} cuts of the last {TORN_RECORDS} records, each loaded its whole records");
}

/// With `aof-load-truncated no` a torn tail refuses to start, naming the file.
#[test]
fn torn_tail_refused_without_aof_load_truncated() {
    let (dir, records) = written_dir();
    let path = files::last_incr(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let last = records.last().unwrap();
    for cut in last.start..last.end {
        let copy = damaged_copy(dir.path(), &bytes[..cut as usize]);
        let result = ServerProcess::try_start(copy.path(), &["--aof-load-truncated", "no"]);
        if cut == last.start {
            // A cut on a record boundary is a whole file: it loads.
            assert_keys(
                &result.expect("a file ending on a boundary loads"),
                KEYS - 1,
                "boundary",
            );
            continue;
        }
        let exited = result
            .err()
            .unwrap_or_else(|| panic!("cut at {cut}: started despite aof-load-truncated no"));
        assert!(!exited.status.success(), "cut at {cut}: must exit non-zero");
        assert!(
            exited.stderr.contains(&name),
            "cut at {cut}: stderr names {name}:\n{}",
            exited.stderr
        );
    }
}

/// A zero-filled tail (what a power loss can leave) is a torn tail: cut back, all loaded.
#[test]
fn zero_filled_tail_is_cut() {
    let (dir, records) = written_dir();
    let bytes = std::fs::read(files::last_incr(dir.path())).unwrap();
    // The last record half-written, then zeros up to its length.
    let last = records.last().unwrap();
    let half = ((last.start + last.end) / 2) as usize;
    let mut torn = bytes[..half].to_vec();
    torn.resize(bytes.len(), 0);
    // And zeros after a whole file: the length grew, the data did not arrive.
    let mut padded = bytes.clone();
    padded.resize(bytes.len() + 4096, 0);
    let whole = bytes.len() as u64; // the last record and its checksum line
    for (damaged, sets, good) in [(torn, KEYS - 1, last.start), (padded, KEYS, whole)] {
        let copy = damaged_copy(dir.path(), &damaged);
        let server = ServerProcess::start(copy.path(), &["--aof-load-truncated", "yes"]);
        assert_keys(&server, sets, "zero-filled tail");
        let len = std::fs::metadata(files::last_incr(copy.path()))
            .unwrap()
            .len();
        assert_eq!(
            len, good,
            "zero-filled tail cut back to the last whole record"
        );
    }
}

/// A damaged byte in the middle of the AOF refuses to start, even with
/// `aof-load-truncated yes`, and stderr names the file and the byte offset.
#[test]
fn corrupt_byte_in_the_middle_refuses_to_start() {
    let (dir, records) = written_dir();
    let path = files::last_incr(dir.path());
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let bytes = std::fs::read(&path).unwrap();
    let middle = &records[records.len() / 2];
    let mut damaged = bytes.clone();
    // The record's leading '*' becomes a byte no record can start with.
    damaged[middle.start as usize] = b'!';
    let copy = damaged_copy(dir.path(), &damaged);
    let exited = ServerProcess::try_start(copy.path(), &["--aof-load-truncated", "yes"])
        .err()
        .expect("must refuse");
    assert!(!exited.status.success());
    assert!(
        exited.stderr.contains(&name),
        "stderr names {name}:\n{}",
        exited.stderr
    );
    let offset = format!("offset {}", middle.start);
    assert!(
        exited.stderr.contains(&offset),
        "stderr names the {offset}:\n{}",
        exited.stderr
    );
    // The refusal left the file as it was: nothing was truncated away.
    assert_eq!(
        std::fs::read(files::last_incr(copy.path())).unwrap(),
        damaged
    );

    // A damaged base (RDB preamble) refuses too, naming the base file.
    let copy = tempfile::tempdir().unwrap();
    files::copy_dir(dir.path(), copy.path());
    let base = files::base(copy.path());
    let mut rdb = std::fs::read(&base).unwrap();
    let at = rdb.len() / 2;
    rdb[at] ^= 0xff;
    std::fs::write(&base, &rdb).unwrap();
    let exited = ServerProcess::try_start(copy.path(), &[])
        .err()
        .expect("a damaged base must refuse");
    let base_name = base.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        exited.stderr.contains(&base_name),
        "stderr names {base_name}:\n{}",
        exited.stderr
    );
}

/// A flipped bit inside a value (the record still decodes, so only the checksum line can tell)
/// refuses to start, even with `aof-load-truncated yes`, naming the file and both checksums.
#[test]
fn flipped_bit_in_a_value_refuses_naming_both_checksums() {
    let (dir, records) = written_dir();
    let path = files::last_incr(dir.path());
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let bytes = std::fs::read(&path).unwrap();
    let middle = &records[records.len() / 2];
    let mut damaged = bytes.clone();
    // The value's first byte, 'v', becomes 'w': `SET k v…` is still a whole record.
    let value_at = middle.end as usize - 2 - middle.argv[2].len();
    assert_eq!(damaged[value_at], b'v');
    damaged[value_at] ^= 0x01;
    let copy = damaged_copy(dir.path(), &damaged);
    let exited = ServerProcess::try_start(copy.path(), &["--aof-load-truncated", "yes"])
        .err()
        .expect("a flipped bit must refuse");
    assert!(!exited.status.success());
    assert!(
        exited.stderr.contains(&name) && exited.stderr.contains("checksum mismatch"),
        "stderr names {name} and the mismatch:\n{}",
        exited.stderr
    );
}
