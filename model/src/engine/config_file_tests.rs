//! Tests of CONFIG REWRITE's file steps (`config_file.rs`) on the simulated disk.

use super::tests::{config, Rig};
use crate::config::FsyncPolicy;
use crate::io::Op;
use crate::resp::Frame;

const CONF: &str = "durakv.conf";

fn rig_with_file(text: &str) -> Rig {
    let mut config = config(FsyncPolicy::Always);
    config.config_file = Some(CONF.to_string());
    let mut rig = Rig::start(config);
    let _ = rig.disk.execute(&Op::Create { path: CONF.into() });
    let bytes = bytes::Bytes::from(text.to_string());
    let _ = rig.disk.execute(&Op::Append {
        path: CONF.into(),
        bytes,
    });
    rig
}

fn file(rig: &Rig) -> String {
    String::from_utf8_lossy(rig.disk.contents(CONF).expect("config file")).into_owned()
}

/// Goal: `+OK` comes once the new text is in place under the file's name, and a command the
/// client sent meanwhile is answered after it.
#[test]
fn rewrite_replaces_the_file_then_answers() {
    let mut rig = rig_with_file("# mine\nmaxmemory 1mb\n");
    rig.send(1, "CONFIG SET maxmemory 2mb");
    rig.send(1, "CONFIG REWRITE");
    rig.send(1, "PING");
    assert_eq!(
        rig.take_replies(),
        [Frame::ok()],
        "only CONFIG SET answered so far"
    );
    rig.settle();
    assert_eq!(
        rig.take_replies(),
        [Frame::ok(), Frame::Simple("PONG".into())]
    );
    assert!(
        file(&rig).starts_with("# mine\nmaxmemory 2097152\n"),
        "{}",
        file(&rig)
    );
    assert!(rig.disk.contents("durakv.conf.rewrite.tmp").is_none());
}

/// Goal: a failed step answers Redis's error, leaves the old file whole and removes the
/// temporary; the next rewrite works.
#[test]
fn a_failed_rename_keeps_the_old_file() {
    let mut rig = rig_with_file("maxmemory 1mb\n");
    rig.send(1, "CONFIG SET maxmemory 2mb");
    rig.send(1, "CONFIG REWRITE");
    while rig
        .complete(|op| !matches!(op, Op::Rename { .. }))
        .is_some()
    {}
    rig.fail_next = Some("ENOSPC");
    assert!(rig.complete(|op| matches!(op, Op::Rename { .. })).is_some());
    rig.settle();
    let replies = rig.take_replies();
    assert!(
        matches!(replies.last(), Some(Frame::Error(e)) if e.starts_with("ERR Rewriting config file: ")),
        "{replies:?}"
    );
    assert_eq!(file(&rig), "maxmemory 1mb\n");
    assert!(rig.disk.contents("durakv.conf.rewrite.tmp").is_none());
    rig.send(1, "CONFIG REWRITE");
    rig.settle();
    assert_eq!(rig.take_replies(), [Frame::ok()]);
    assert!(file(&rig).starts_with("maxmemory 2097152\n"));
}
