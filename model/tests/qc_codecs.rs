//! Codec laws, checked with quickcheck over generated values: RESP commands and frames, AOF
//! records, the AOF manifest and RDB files.
//!
//! For each codec:
//! * **round trip**: `decode(encode(x)) == x`, consuming exactly the bytes of `x` (bytes after
//!   it are left alone, so pipelined commands and AOF files of many records decode one by one);
//! * **torn tails**: every proper prefix of a valid encoding is "incomplete" — `Ok(None)`,
//!   [`Decoded::Incomplete`], `RdbError { incomplete: true }` — never "corrupt", never a panic
//!   (for the manifest, which has no "incomplete", a prefix parses only when it ends at a line
//!   end, and then as the files of the lines it holds);
//! * **damage**: flipping, overwriting, inserting and deleting a few bytes never panics, and a
//!   decoder that accepts damaged bytes never claims more bytes than it was given. An RDB file
//!   with a checksum never loads as a different keyspace, with two corners the format itself
//!   leaves open, both excluded explicitly (see `prop_rdb_damage`).
//!
//! Generators aim at the edges: bytes of the protocols' own syntax (`\r`, `\n`, `*`, `$`, `#`,
//! quotes, NUL), empty strings and keys, integer-like strings around the RDB INT encodings,
//! long repetitive values (LZF), TTLs from 0 to `i64::MAX`, several databases.
//!
//! Cases per property: `DURAKV_QC_TESTS` (default 1000, 300 for the RDB round trip with its
//! quadratic prefix check), from the seed `DURAKV_QC_SEED` (random when unset; every property
//! prints the seed it used, and a failure repeats it with the shrunk case). The whole file runs
//! in under a second in `--release`. The two RESP damage properties found a parser panic on an
//! empty line (fixed; `resp_empty_lines_never_panic` keeps the minimal cases). A long soak:
//!
//! ```text
//! DURAKV_QC_TESTS=100000 DURAKV_QC_SEED=12345 cargo test --release -p durakv-model --test qc_codecs
//! ```

use std::panic;

use bytes::Bytes;
use durakv_model::aof::manifest::{AofFile, FileKind, Manifest};
use durakv_model::aof::record::{self, Decoded};
use durakv_model::keyspace::{Entry, Keyspace, Value};
use durakv_model::rdb::{self, LoadOptions, SaveInfo};
use durakv_model::resp::{encode_command, parse_command, parse_frame, Frame, Limits};
use quickcheck::{empty_shrinker, Arbitrary, Gen, TestResult};

#[path = "support/qc_check.rs"]
mod qc_check;
use qc_check::{below, check};

/// Fails the case with `message` (the failing value is in the message: quickcheck 1.1 names
/// the arguments only when a shrink step succeeded).
fn fail(message: String) -> TestResult {
    TestResult::error(message)
}

// ---------------------------------------------------------------------------------------------
// Running: seed and case count from our environment variables.

/// Bytes with a meaning in RESP, AOF, manifests or RDB, so damage and content hit the syntax.
const SYNTAX_BYTES: &[u8] =
    b"\r\n*$#:+-0123456789 \"'\\\x00\x07\x7f\xff\xfe\xfc\xfa\xc0\xc3\x40\x80";

/// A byte string: empty, short, syntax-heavy, random, repetitive (compressible) or text.
fn blob(g: &mut Gen, len_max: usize) -> Vec<u8> {
    let len = match below(g, 8) {
        0 => 0,
        1 => 1,
        2..=5 => below(g, 16),
        6 => below(g, len_max + 1),
        _ => 20 + below(g, 40),
    };
    match below(g, 4) {
        0 => (0..len).map(|_| *g.choose(SYNTAX_BYTES).unwrap()).collect(),
        1 => (0..len).map(|_| u8::arbitrary(g)).collect(),
        2 => {
            let pattern: Vec<u8> = (0..1 + below(g, 4)).map(|_| u8::arbitrary(g)).collect();
            pattern.iter().copied().cycle().take(len).collect()
        }
        _ => (0..len).map(|_| b'a' + below(g, 26) as u8).collect(),
    }
}

/// A non-empty argv (a command or an AOF record).
#[derive(Clone, Debug)]
struct Argv(Vec<Vec<u8>>);

impl Argv {
    fn bytes(&self) -> Vec<Bytes> {
        self.0.iter().map(|a| Bytes::copy_from_slice(a)).collect()
    }
}

impl Arbitrary for Argv {
    fn arbitrary(g: &mut Gen) -> Self {
        Argv((0..1 + below(g, 5)).map(|_| blob(g, 200)).collect())
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        Box::new(self.0.shrink().filter(|a| !a.is_empty()).map(Argv))
    }
}

/// Text for a simple string or error frame: any UTF-8 except CR and LF.
fn line_text(g: &mut Gen) -> String {
    const CHARS: &[char] = &[
        'a', 'Z', '0', ' ', '-', '+', ':', '\t', '\0', 'é', '中', '$', '*',
    ];
    (0..below(g, 12))
        .map(|_| *g.choose(CHARS).unwrap())
        .collect()
}

#[derive(Clone, Debug)]
struct ArbFrame(Frame);

fn frame(g: &mut Gen, depth: usize) -> Frame {
    match below(g, if depth < 4 { 8 } else { 6 }) {
        0 => Frame::Simple(line_text(g)),
        1 => Frame::Error(line_text(g)),
        2 => Frame::Integer(i64::arbitrary(g)),
        3 => Frame::Bulk(Bytes::from(blob(g, 100))),
        4 => Frame::Null,
        5 => Frame::NullArray,
        _ => Frame::Array((0..below(g, 5)).map(|_| frame(g, depth + 1)).collect()),
    }
}

impl Arbitrary for ArbFrame {
    fn arbitrary(g: &mut Gen) -> Self {
        ArbFrame(frame(g, 0))
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        match &self.0 {
            Frame::Array(items) => {
                let wrapped: Vec<ArbFrame> = items.iter().cloned().map(ArbFrame).collect();
                let children = wrapped.clone().into_iter();
                let fewer = wrapped
                    .shrink()
                    .map(|v| ArbFrame(Frame::Array(v.into_iter().map(|f| f.0).collect())));
                Box::new(children.chain(fewer))
            }
            Frame::Bulk(b) => Box::new(
                b.to_vec()
                    .shrink()
                    .map(|v| ArbFrame(Frame::Bulk(Bytes::from(v)))),
            ),
            Frame::Simple(s) => Box::new(s.shrink().map(|s| ArbFrame(Frame::Simple(s)))),
            Frame::Error(s) => Box::new(s.shrink().map(|s| ArbFrame(Frame::Error(s)))),
            Frame::Integer(n) => Box::new(n.shrink().map(|n| ArbFrame(Frame::Integer(n)))),
            // Null and NullArray; the RESP3-only types are never generated, as the strict
            // reply parser reads RESP2 (the encoder's RESP3 bytes are unit-tested instead).
            _ => empty_shrinker(),
        }
    }
}

/// One kind of damage to an encoding. Positions are taken modulo the length at the time.
#[derive(Clone, Debug)]
enum Damage {
    Flip { at: usize, mask: u8 },
    Set { at: usize, byte: u8 },
    Insert { at: usize, byte: u8 },
    Delete { at: usize },
}

impl Arbitrary for Damage {
    fn arbitrary(g: &mut Gen) -> Self {
        let at = usize::arbitrary(g);
        let byte = if below(g, 2) == 0 {
            *g.choose(SYNTAX_BYTES).unwrap()
        } else {
            u8::arbitrary(g)
        };
        match below(g, 4) {
            0 => Damage::Flip {
                at,
                mask: 1 << below(g, 8),
            },
            1 => Damage::Set { at, byte },
            2 => Damage::Insert { at, byte },
            _ => Damage::Delete { at },
        }
    }

    /// Positions are taken modulo the length, so a position shrinks to its small residues:
    /// once the encoding around the damage shrinks, the damage can follow it.
    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let at = match *self {
            Damage::Flip { at, .. }
            | Damage::Set { at, .. }
            | Damage::Insert { at, .. }
            | Damage::Delete { at } => at,
        };
        let this = self.clone();
        let mut smaller: Vec<usize> = (0..13).map(|k| at % (1 << k)).filter(|&s| s < at).collect();
        smaller.dedup();
        Box::new(smaller.into_iter().map(move |at| match this {
            Damage::Flip { mask, .. } => Damage::Flip { at, mask },
            Damage::Set { byte, .. } => Damage::Set { at, byte },
            Damage::Insert { byte, .. } => Damage::Insert { at, byte },
            Damage::Delete { .. } => Damage::Delete { at },
        }))
    }
}

/// One to four kinds of damage, applied in order.
#[derive(Clone, Debug)]
struct Damages(Vec<Damage>);

impl Damages {
    fn apply(&self, original: &[u8]) -> Vec<u8> {
        let mut bytes = original.to_vec();
        for damage in &self.0 {
            match *damage {
                Damage::Insert { at, byte } => bytes.insert(at % (bytes.len() + 1), byte),
                _ if bytes.is_empty() => {}
                Damage::Flip { at, mask } => {
                    let len = bytes.len();
                    bytes[at % len] ^= mask;
                }
                Damage::Set { at, byte } => {
                    let len = bytes.len();
                    bytes[at % len] = byte;
                }
                Damage::Delete { at } => {
                    let len = bytes.len();
                    bytes.remove(at % len);
                }
            }
        }
        bytes
    }
}

impl Arbitrary for Damages {
    fn arbitrary(g: &mut Gen) -> Self {
        Damages((0..1 + below(g, 4)).map(|_| Damage::arbitrary(g)).collect())
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        Box::new(self.0.shrink().filter(|d| !d.is_empty()).map(Damages))
    }
}

// ---------------------------------------------------------------------------------------------
// RESP commands.

/// Goal: pipelined commands parse back one by one, each consuming exactly its own bytes, and
/// every proper prefix of a command needs more bytes. Method: `encode_command` of several
/// argvs into one buffer, then `parse_command` from the front, then every cut of the first.
fn prop_resp_commands(argvs: Vec<Argv>) -> TestResult {
    let limits = Limits::default();
    let mut buf = Vec::new();
    let mut ends = Vec::new();
    for argv in &argvs {
        encode_command(&argv.bytes(), &mut buf);
        ends.push(buf.len());
    }
    let mut at = 0;
    for (argv, &end) in argvs.iter().zip(&ends) {
        let expected = Ok(Some((argv.bytes(), end - at)));
        let got = parse_command(&buf[at..], &limits);
        if got != expected {
            return fail(format!("at {at}: got {got:?}, expected {expected:?}"));
        }
        at = end;
    }
    if let Some(&first) = ends.first() {
        for cut in 0..first {
            let got = parse_command(&buf[..cut], &limits);
            if got != Ok(None) {
                return fail(format!("prefix of {cut} bytes: {got:?}"));
            }
        }
    }
    TestResult::passed()
}

/// Goal: damaged requests never panic, and a parse never consumes more than it was given or
/// nothing at all. Method: damage the encoding of a pipeline of two commands.
fn prop_resp_command_damage(first: Argv, second: Argv, damages: Damages) -> TestResult {
    let mut buf = Vec::new();
    encode_command(&first.bytes(), &mut buf);
    encode_command(&second.bytes(), &mut buf);
    let damaged = damages.apply(&buf);
    match parse_command(&damaged, &Limits::default()) {
        Ok(Some((_, used))) if used == 0 || used > damaged.len() => {
            fail(format!("consumed {used} of {} bytes", damaged.len()))
        }
        _ => TestResult::passed(),
    }
}

#[test]
fn qc_resp_commands_round_trip_and_prefixes_are_incomplete() {
    check(
        "qc_resp_commands",
        1000,
        8,
        prop_resp_commands as fn(Vec<Argv>) -> TestResult,
    );
}

// Ignored until fixed: finds a real panic (report "qc_codecs: RESP parsers panic on an empty
// line"); minimal case `parse_command(b"*1\r\n\r\n")`, seed 4664786222979130456.
#[test]
fn qc_resp_command_damage_never_panics() {
    check(
        "qc_resp_command_damage",
        1000,
        8,
        prop_resp_command_damage as fn(Argv, Argv, Damages) -> TestResult,
    );
}

// ---------------------------------------------------------------------------------------------
// RESP frames.

/// Goal: `parse_frame(encode(f)) == f` consuming exactly `f`'s bytes (a second frame after it
/// is left alone), and every proper prefix needs more bytes.
fn prop_resp_frame(frame: ArbFrame, next: ArbFrame) -> TestResult {
    let mut buf = Vec::new();
    frame.0.encode(&mut buf);
    let len = buf.len();
    next.0.encode(&mut buf);
    let got = parse_frame(&buf);
    if got != Ok(Some((frame.0.clone(), len))) {
        return fail(format!("got {got:?}, {len} bytes expected"));
    }
    for cut in 0..len {
        let got = parse_frame(&buf[..cut]);
        if got != Ok(None) {
            return fail(format!("prefix of {cut} bytes: {got:?}"));
        }
    }
    TestResult::passed()
}

/// Goal: a damaged reply never panics and never claims more bytes than it was given.
fn prop_resp_frame_damage(frame: ArbFrame, damages: Damages) -> TestResult {
    let mut buf = Vec::new();
    frame.0.encode(&mut buf);
    let damaged = damages.apply(&buf);
    match parse_frame(&damaged) {
        Ok(Some((_, used))) if used == 0 || used > damaged.len() => {
            fail(format!("consumed {used} of {} bytes", damaged.len()))
        }
        _ => TestResult::passed(),
    }
}

#[test]
fn qc_resp_frames_round_trip_and_prefixes_are_incomplete() {
    check(
        "qc_resp_frames",
        1000,
        8,
        prop_resp_frame as fn(ArbFrame, ArbFrame) -> TestResult,
    );
}

// Ignored until fixed: finds a real panic (report "qc_codecs: RESP parsers panic on an empty
// line"); minimal case `parse_frame(b"\r\n")`, seed 4664786222979130456.
#[test]
fn qc_resp_frame_damage_never_panics() {
    check(
        "qc_resp_frame_damage",
        1000,
        8,
        prop_resp_frame_damage as fn(ArbFrame, Damages) -> TestResult,
    );
}

/// Goal: the minimal cases the two damage properties above shrank to. Both parsers slice
/// `buf[pos + 1..cr]` for a line whose CR is at `pos` itself (an empty line where a type byte
/// or `$` is expected), which panics. `parse_command` is the server's request parser, so one
/// client sending `*1\r\n\r\n` panics its connection task; Redis answers
/// `-ERR Protocol error: expected '$', got ' '` and closes.
#[test]
fn resp_empty_lines_never_panic() {
    for buf in [&b"*1\r\n\r\n"[..], b"*2\r\n$1\r\na\r\n\r\n"] {
        let result = panic::catch_unwind(|| parse_command(buf, &Limits::default()));
        assert!(
            result.is_ok(),
            "parse_command({:?}) panicked",
            String::from_utf8_lossy(buf)
        );
    }
    for buf in [&b"\r\n"[..], b"*1\r\n\r\n"] {
        let result = panic::catch_unwind(|| parse_frame(buf));
        assert!(
            result.is_ok(),
            "parse_frame({:?}) panicked",
            String::from_utf8_lossy(buf)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// AOF records.

/// One item of an AOF file: a command record, or a `#` annotation line (text without `\n`).
#[derive(Clone, Debug)]
enum Item {
    Command(Argv),
    Annotation(Vec<u8>),
}

impl Item {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Item::Command(argv) => record::encode(&argv.bytes(), out),
            Item::Annotation(text) => {
                out.push(b'#');
                out.extend_from_slice(text);
                out.extend_from_slice(b"\r\n");
            }
        }
    }

    fn expected(&self, len: usize) -> Decoded {
        match self {
            Item::Command(argv) => Decoded::Command {
                argv: argv.bytes(),
                len,
            },
            Item::Annotation(_) => Decoded::Annotation { len },
        }
    }
}

impl Arbitrary for Item {
    fn arbitrary(g: &mut Gen) -> Self {
        if below(g, 5) == 0 {
            // Up to the longest line Redis reads: '#', the text and CRLF in 1024 bytes.
            let len = if below(g, 8) == 0 { 1021 } else { below(g, 40) };
            let text = (0..len)
                .map(|_| *g.choose(SYNTAX_BYTES).unwrap())
                .map(|b| if b == b'\n' { b'n' } else { b })
                .collect();
            Item::Annotation(text)
        } else {
            Item::Command(Argv::arbitrary(g))
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        match self {
            Item::Command(argv) => Box::new(argv.shrink().map(Item::Command)),
            Item::Annotation(text) => Box::new(
                (!text.is_empty())
                    .then(|| Item::Annotation(Vec::new()))
                    .into_iter(),
            ),
        }
    }
}

/// Decodes `buf` record by record until it stops; the steps and where each began.
fn decode_all(buf: &[u8]) -> Vec<(usize, Decoded)> {
    let mut steps = Vec::new();
    let mut at = 0;
    loop {
        let step = record::decode(&buf[at..]);
        let len = match step {
            Decoded::Command { len, .. } | Decoded::Annotation { len } => len,
            Decoded::Incomplete | Decoded::Corrupt { .. } => {
                steps.push((at, step));
                return steps;
            }
        };
        assert!(len > 0 && at + len <= buf.len(), "record of {len} at {at}");
        steps.push((at, step));
        at += len;
    }
}

/// Goal: an AOF file decodes back to its records, in order, each consuming exactly its bytes;
/// and a file cut at any byte (a torn tail) decodes to exactly the records wholly before the
/// cut, then `Incomplete` — never `Corrupt`, which would refuse start-up.
fn prop_aof_records(items: Vec<Item>) -> TestResult {
    let mut buf = Vec::new();
    let mut ends = vec![0];
    for item in &items {
        item.encode(&mut buf);
        ends.push(buf.len());
    }
    for cut in 0..=buf.len() {
        let steps = decode_all(&buf[..cut]);
        let whole = ends[1..].iter().filter(|&&end| end <= cut).count();
        if steps.len() != whole + 1 || steps[whole].1 != Decoded::Incomplete {
            return fail(format!("cut at {cut}: {steps:?}"));
        }
        for (i, (at, step)) in steps[..whole].iter().enumerate() {
            if *at != ends[i] || *step != items[i].expected(ends[i + 1] - ends[i]) {
                return fail(format!(
                    "cut at {cut}: record {i} decoded as {step:?} at {at}"
                ));
            }
        }
    }
    TestResult::passed()
}

/// Goal: damaged AOF bytes never panic, never make the decoder loop or overrun
/// (`decode_all` asserts every step consumes something within the buffer).
fn prop_aof_record_damage(items: Vec<Item>, damages: Damages) -> TestResult {
    let mut buf = Vec::new();
    for item in &items {
        item.encode(&mut buf);
    }
    let _ = decode_all(&damages.apply(&buf));
    TestResult::passed()
}

#[test]
fn qc_aof_records_round_trip_and_torn_tails_are_incomplete() {
    check(
        "qc_aof_records",
        1000,
        6,
        prop_aof_records as fn(Vec<Item>) -> TestResult,
    );
}

#[test]
fn qc_aof_record_damage_never_panics() {
    check(
        "qc_aof_record_damage",
        1000,
        6,
        prop_aof_record_damage as fn(Vec<Item>, Damages) -> TestResult,
    );
}

// ---------------------------------------------------------------------------------------------
// Manifest.

/// A manifest with at least one file, non-empty bare names (no `/`, `\`, NUL), seq numbers
/// 1..=i64::MAX and strictly increasing incr numbers: the domain of `parse(encode(m)) == m`.
#[derive(Clone, Debug)]
struct ArbManifest(Manifest);

fn file_name(g: &mut Gen) -> String {
    const WORDS: &[&str] = &[
        "file",
        "seq",
        "type",
        "b",
        "i",
        "#x",
        "appendonly.aof.1.incr.aof",
    ];
    const CHARS: &[char] = &[
        'a', 'Z', '0', '.', '-', '_', ' ', '"', '\'', '\t', '\n', '\r', '#', '\x07', '\x08',
        '\x01', '\x0b', '\x7f', 'é', '中',
    ];
    if below(g, 4) == 0 {
        return g.choose(WORDS).unwrap().to_string();
    }
    (0..1 + below(g, 12))
        .map(|_| *g.choose(CHARS).unwrap())
        .collect()
}

fn seq(g: &mut Gen) -> u64 {
    match below(g, 4) {
        0 => 1 + below(g, 3) as u64,
        1 => i64::MAX as u64 - below(g, 2) as u64,
        _ => 1 + u64::arbitrary(g) % (i64::MAX as u64),
    }
}

fn aof_file(g: &mut Gen, kind: FileKind) -> AofFile {
    AofFile {
        name: file_name(g),
        seq: seq(g),
        kind,
    }
}

impl ArbManifest {
    /// The files in manifest order (base, history, incrs): the order of the encoded lines.
    fn files(&self) -> Vec<AofFile> {
        let m = &self.0;
        m.base
            .iter()
            .chain(&m.history)
            .chain(&m.incrs)
            .cloned()
            .collect()
    }

    fn from_files(files: &[AofFile]) -> Manifest {
        let mut m = Manifest::default();
        for file in files {
            match file.kind {
                FileKind::Base => m.base = Some(file.clone()),
                FileKind::History => m.history.push(file.clone()),
                FileKind::Incr => m.incrs.push(file.clone()),
            }
        }
        m
    }
}

impl Arbitrary for ArbManifest {
    fn arbitrary(g: &mut Gen) -> Self {
        let base = (below(g, 2) == 0).then(|| aof_file(g, FileKind::Base));
        let history = (0..below(g, 3))
            .map(|_| aof_file(g, FileKind::History))
            .collect();
        let mut incrs: Vec<AofFile> = Vec::new();
        let mut next = 1 + below(g, 3) as u64;
        for _ in 0..below(g, 4) {
            let mut file = aof_file(g, FileKind::Incr);
            file.seq = next;
            incrs.push(file);
            next += 1 + below(g, 3) as u64 * below(g, 1000) as u64;
        }
        let mut m = Manifest {
            base,
            history,
            incrs,
        };
        if m.base.is_none() && m.history.is_empty() && m.incrs.is_empty() {
            m.incrs.push(aof_file(g, FileKind::Incr));
        }
        ArbManifest(m)
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        // Drop one line at a time (which keeps incr numbers increasing), keeping one file.
        let files = self.files();
        let shrunk: Vec<ArbManifest> = (0..files.len())
            .filter(|_| files.len() > 1)
            .map(|skip| {
                let rest: Vec<AofFile> = files
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != skip)
                    .map(|(_, f)| f.clone())
                    .collect();
                ArbManifest(ArbManifest::from_files(&rest))
            })
            .collect();
        Box::new(shrunk.into_iter())
    }
}

/// Goal: `parse(encode(m)) == m`; and a manifest cut at any byte parses only if the cut is at
/// a line end, as the files of the whole lines before it — a torn manifest is never read as
/// something else. (Durability never relies on this: the manifest is written to a temp file,
/// fsynced and renamed. It says the parser does not guess.)
fn prop_manifest(m: ArbManifest) -> TestResult {
    let text = m.0.encode();
    match Manifest::parse(&text) {
        Ok(parsed) if parsed == m.0 => {}
        other => {
            return fail(format!(
                "{:?} parsed as {other:?}",
                String::from_utf8_lossy(&text)
            ))
        }
    }
    let files = m.files();
    let line_ends: Vec<usize> = (0..text.len())
        .filter(|&i| text[i] == b'\n')
        .map(|i| i + 1)
        .collect();
    if line_ends.len() != files.len() {
        return fail(format!(
            "{} lines for {} files",
            line_ends.len(),
            files.len()
        ));
    }
    for cut in 0..text.len() {
        let got = Manifest::parse(&text[..cut]);
        let expected = line_ends
            .iter()
            .position(|&end| end == cut)
            .map(|k| ArbManifest::from_files(&files[..=k]));
        let ok = match (&got, &expected) {
            (Ok(parsed), Some(expected)) => parsed == expected,
            (Err(_), None) => true,
            _ => false,
        };
        if !ok {
            return fail(format!("cut at {cut}: got {got:?}, expected {expected:?}"));
        }
    }
    TestResult::passed()
}

/// Goal: a damaged manifest never panics, and whatever it parses as re-encodes to text that
/// parses back to the same manifest (when each re-encoded line fits Redis's 1024 bytes: a name
/// of many control bytes grows fourfold when quoted).
fn prop_manifest_damage(m: ArbManifest, damages: Damages) -> TestResult {
    let damaged = damages.apply(&m.0.encode());
    let Ok(parsed) = Manifest::parse(&damaged) else {
        return TestResult::passed();
    };
    let text = parsed.encode();
    if text.split(|&b| b == b'\n').any(|line| line.len() >= 1024) {
        return TestResult::passed();
    }
    if parsed.base.is_none() && parsed.history.is_empty() && parsed.incrs.is_empty() {
        return TestResult::passed(); // Comments only: encodes to nothing, which is refused.
    }
    match Manifest::parse(&text) {
        Ok(again) if again == parsed => TestResult::passed(),
        other => fail(format!(
            "{:?} parsed as {parsed:?}, re-encoded and parsed as {other:?}",
            String::from_utf8_lossy(&damaged)
        )),
    }
}

#[test]
fn qc_manifest_round_trip_and_torn_manifests_are_refused() {
    check(
        "qc_manifest",
        1000,
        8,
        prop_manifest as fn(ArbManifest) -> TestResult,
    );
}

#[test]
fn qc_manifest_damage_never_panics() {
    check(
        "qc_manifest_damage",
        1000,
        8,
        prop_manifest_damage as fn(ArbManifest, Damages) -> TestResult,
    );
}

// ---------------------------------------------------------------------------------------------
// RDB.

/// One insertion: database, key, value, absolute expiry in unix ms.
type Insertion = (usize, Vec<u8>, Vec<u8>, Option<u64>);

/// A keyspace as a list of insertions (so it shrinks by dropping keys), the number of
/// databases, and how the file is saved.
#[derive(Clone, Debug)]
struct RdbCase {
    databases: usize,
    keys: Vec<Insertion>,
    compression: bool,
    checksum: bool,
    aof_base: bool,
    ctime_s: u64,
    now_ms: u64,
}

/// Strings around every RDB string-encoding decision: canonical i32 (INT8/16/32 boundaries),
/// non-canonical look-alikes that must stay raw, and 11-12 character numbers.
const INTEGER_LIKE: &[&str] = &[
    "0",
    "-1",
    "1",
    "127",
    "128",
    "-128",
    "-129",
    "32767",
    "32768",
    "-32768",
    "-32769",
    "2147483647",
    "2147483648",
    "-2147483648",
    "-2147483649",
    "12345678901",
    "-1234567890",
    "007",
    "-0",
    "+1",
    " 1",
    "1 ",
    "00",
    "9223372036854775807",
];

fn rdb_string(g: &mut Gen, long: bool) -> Vec<u8> {
    match below(g, 8) {
        0 | 1 => g.choose(INTEGER_LIKE).unwrap().as_bytes().to_vec(),
        2 if long => {
            // Over 20 bytes and repetitive: LZF-compressed when compression is on.
            let unit = blob(g, 4);
            let unit = if unit.is_empty() {
                b"ab".to_vec()
            } else {
                unit
            };
            unit.iter()
                .copied()
                .cycle()
                .take(21 + below(g, 300))
                .collect()
        }
        3 => Vec::new(),
        _ => blob(g, if long { 120 } else { 16 }),
    }
}

fn expiry(g: &mut Gen) -> Option<u64> {
    match below(g, 10) {
        0..=4 => None,
        5 => Some(0),
        6 => Some(below(g, 10) as u64),
        7 => Some(1_700_000_000_000 + below(g, 10_000_000) as u64),
        8 => Some(i64::MAX as u64 - below(g, 2) as u64),
        _ => Some(u64::arbitrary(g) % (i64::MAX as u64 + 1)),
    }
}

impl RdbCase {
    fn keyspace(&self) -> Keyspace {
        let mut ks = Keyspace::new(self.databases);
        for (db, key, value, expire_at_ms) in &self.keys {
            ks.insert(
                *db,
                Bytes::copy_from_slice(key),
                Entry {
                    value: Value::Str(Bytes::copy_from_slice(value)),
                    expire_at_ms: *expire_at_ms,
                },
            );
        }
        ks
    }

    fn save(&self, ks: &Keyspace) -> Vec<u8> {
        let info = SaveInfo {
            aof_base: self.aof_base,
            ctime_s: self.ctime_s,
            used_mem: 1 << 20,
            compression: self.compression,
            checksum: self.checksum,
        };
        let mut out = Vec::new();
        let written = rdb::encode(ks, &info, &mut out).expect("a Vec never fails");
        assert_eq!(written, out.len() as u64);
        out
    }

    fn load(
        &self,
        bytes: &[u8],
        drop_expired: bool,
    ) -> Result<(Keyspace, rdb::Loaded), rdb::RdbError> {
        let mut ks = Keyspace::new(self.databases);
        let opts = LoadOptions {
            now_ms: self.now_ms,
            drop_expired,
        };
        rdb::decode(bytes, &mut ks, &opts).map(|loaded| (ks, loaded))
    }
}

impl Arbitrary for RdbCase {
    fn arbitrary(g: &mut Gen) -> Self {
        let databases = *g.choose(&[1, 2, 3, 16]).unwrap();
        let keys = (0..below(g, g.size() + 1))
            .map(|_| {
                let db = below(g, databases);
                (db, rdb_string(g, false), rdb_string(g, true), expiry(g))
            })
            .collect();
        RdbCase {
            databases,
            keys,
            compression: bool::arbitrary(g),
            checksum: below(g, 4) != 0,
            aof_base: bool::arbitrary(g),
            ctime_s: u64::arbitrary(g),
            now_ms: match below(g, 3) {
                0 => 0,
                1 => 1_700_000_000_000 + below(g, 10_000_000) as u64,
                _ => u64::arbitrary(g),
            },
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let base = self.clone();
        Box::new(self.keys.shrink().map(move |keys| RdbCase {
            keys,
            ..base.clone()
        }))
    }
}

/// Goal: `decode(encode(ks)) == ks` — TTLs, several databases, binary and empty keys,
/// integer-like strings, LZF — consuming the whole file; a master load drops exactly the keys
/// expired at `now_ms`; every proper prefix is `incomplete`, at an offset within the prefix.
fn prop_rdb(case: RdbCase) -> TestResult {
    let ks = case.keyspace();
    let bytes = case.save(&ks);
    match case.load(&bytes, false) {
        Ok((loaded_ks, loaded)) => {
            let whole = loaded.end_offset == bytes.len() as u64;
            if loaded_ks != ks || !whole || loaded.keys_loaded != ks.len() as u64 {
                return fail(format!("loaded {loaded:?}: {loaded_ks:?}, saved {ks:?}"));
            }
        }
        Err(e) => return fail(format!("{e}")),
    }
    let mut live = Keyspace::new(case.databases);
    for (index, db) in ks.dbs.iter().enumerate() {
        for stored in db.iter() {
            if !stored.is_expired(case.now_ms) {
                live.insert(index, stored.key_bytes(), stored.entry().into_owned());
            }
        }
    }
    match case.load(&bytes, true) {
        Ok((loaded_ks, loaded))
            if loaded_ks == live && loaded.keys_expired == (ks.len() - live.len()) as u64 => {}
        other => return fail(format!("drop_expired at {}: {other:?}", case.now_ms)),
    }
    for cut in 0..bytes.len() {
        match case.load(&bytes[..cut], false) {
            Err(e) if e.incomplete && e.offset <= cut as u64 => {}
            other => return fail(format!("prefix of {cut} bytes: {other:?}")),
        }
    }
    TestResult::passed()
}

/// Goal: damage never panics, and a checksummed file never loads as a different keyspace.
///
/// The law applies to a load that (a) reads through the end of the damaged file and (b) still
/// finds a checksum to verify. Two corners of the format fall outside it, by design of the
/// format: a stored checksum of 0 means "not computed" (`rdbchecksum no`), so damage that
/// zeroes the trailer, or that turns a byte into EOF just before 8 zero bytes (e.g. the
/// expiry `05 00 00 00 00 00 00 00`), loads unchecked — and in the second case the load ends
/// before the file does, which is how callers catch it (a `dump.rdb` must end at
/// `end_offset`, an AOF base's tail must parse as RESP); and a version digit damaged below 5
/// declares a format without a trailer. Both are excluded by name here, not by weakening the
/// comparison.
fn prop_rdb_damage(case: RdbCase, damages: Damages) -> TestResult {
    let ks = case.keyspace();
    let bytes = case.save(&ks);
    let damaged = damages.apply(&bytes);
    let Ok((loaded_ks, loaded)) = case.load(&damaged, false) else {
        return TestResult::passed();
    };
    let end = loaded.end_offset as usize;
    if end > damaged.len() {
        return fail(format!("end offset {end} beyond {} bytes", damaged.len()));
    }
    let through_end = end == damaged.len();
    let verified = loaded.version >= 5 && end >= 8 && damaged[end - 8..end] != [0u8; 8];
    if case.checksum && through_end && verified && loaded_ks != ks {
        return fail(format!(
            "damaged file loaded a different keyspace: {loaded_ks:?}, saved {ks:?}"
        ));
    }
    TestResult::passed()
}

#[test]
fn qc_rdb_round_trip_and_prefixes_are_incomplete() {
    check("qc_rdb", 300, 24, prop_rdb as fn(RdbCase) -> TestResult);
}

#[test]
fn qc_rdb_damage_never_loads_another_keyspace() {
    check(
        "qc_rdb_damage",
        1000,
        24,
        prop_rdb_damage as fn(RdbCase, Damages) -> TestResult,
    );
}
