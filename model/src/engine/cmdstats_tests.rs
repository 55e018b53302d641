//! INFO commandstats and errorstats as Redis 7.0 counts them: calls, rejections before a
//! command ran, failures, error replies by code, a script's errors counted once, and CONFIG
//! RESETSTAT.

use bytes::Bytes;

use super::tests::{argv, config, Rig};
use crate::config::FsyncPolicy;
use crate::resp::Frame;

fn send_words(rig: &mut Rig, words: &[&str]) {
    let argv: Vec<Bytes> = words
        .iter()
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect();
    let now_ms = rig.now_ms;
    rig.engine.handle_command(now_ms, 1, argv);
    rig.pump();
    rig.settle();
}

fn info(rig: &mut Rig, section: &str) -> Vec<String> {
    rig.take_replies();
    rig.send(1, &format!("INFO {section}"));
    rig.settle();
    let replies = rig.take_replies();
    let (Some(Frame::Bulk(text)) | Some(Frame::Verbatim { text, .. })) = replies.first() else {
        panic!("{replies:?}")
    };
    let text = String::from_utf8(text.to_vec()).unwrap();
    text.lines().map(str::to_string).collect()
}

#[test]
fn commands_and_errors_are_counted_as_redis_does() {
    let mut rig = Rig::start(config(FsyncPolicy::No));
    for line in ["SET a 1", "LPUSH a x", "GET", "FOO"] {
        rig.engine.handle_command(rig.now_ms, 1, argv(line));
    }
    rig.pump();
    send_words(&mut rig, &["EVAL", "return redis.call('select',99)", "0"]);
    send_words(
        &mut rig,
        &["EVAL", "return redis.error_reply('MY_ERR oops')", "0"],
    );
    // Caught by pcall: the SELECT's error counts once, the script does not fail.
    let caught = "local t = redis.pcall('select',99) return 1";
    send_words(&mut rig, &["EVAL", caught, "0"]);
    let errors = info(&mut rig, "errorstats");
    let want = [
        "errorstat_ERR:count=4",
        "errorstat_MY_ERR:count=1",
        "errorstat_WRONGTYPE:count=1",
    ];
    assert_eq!(&errors[1..], want);
    let stats = info(&mut rig, "stats");
    assert!(stats.contains(&"total_error_replies:6".to_string()));
    let commands = info(&mut rig, "commandstats");
    for row in [
        "cmdstat_set:calls=1,usec=0,usec_per_call=0.00,rejected_calls=0,failed_calls=0",
        "cmdstat_lpush:calls=1,usec=0,usec_per_call=0.00,rejected_calls=0,failed_calls=1",
        "cmdstat_get:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0",
        "cmdstat_eval:calls=3,usec=0,usec_per_call=0.00,rejected_calls=0,failed_calls=2",
        "cmdstat_select:calls=2,usec=0,usec_per_call=0.00,rejected_calls=0,failed_calls=2",
        // The running INFO is counted once it ran, as Redis's `call()` does.
        "cmdstat_info:calls=2,usec=0,usec_per_call=0.00,rejected_calls=0,failed_calls=0",
    ] {
        assert!(commands.contains(&row.to_string()), "{row} in {commands:?}");
    }
    // The default INFO has errorstats, not commandstats.
    let default = info(&mut rig, "default");
    assert!(default.iter().any(|l| l == "# Errorstats"));
    assert!(!default.iter().any(|l| l == "# Commandstats"));
    rig.send(1, "CONFIG RESETSTAT");
    assert_eq!(info(&mut rig, "errorstats"), ["# Errorstats"]);
    // RESETSTAT itself and the INFO after it count from zero, as in Redis.
    let commands = info(&mut rig, "commandstats");
    let zero = "usec=0,usec_per_call=0.00,rejected_calls=0,failed_calls=0";
    assert_eq!(
        commands,
        [
            "# Commandstats".to_string(),
            format!("cmdstat_config|resetstat:calls=1,{zero}"),
            format!("cmdstat_info:calls=1,{zero}"),
        ]
    );
}
