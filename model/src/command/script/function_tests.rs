//! Functions against Redis 7.0's replies: FUNCTION LOAD's metadata and registration errors,
//! FCALL and FCALL_RO, FUNCTION LIST|DELETE|FLUSH|STATS, and what each propagates (LOAD,
//! DELETE and FLUSH as sent; FCALL only its writes, as EVAL).

use super::super::testkit::{bulk, err, int, logged, ok, Kit};
use crate::resp::Frame;

const LIB: &str = r##"FUNCTION LOAD "#!lua name=lib\nredis.register_function('set1', function(KEYS, ARGV) return redis.call('SET', KEYS[1], ARGV[1]) end)\nredis.register_function{function_name='get1', callback=function(KEYS) return redis.call('GET', KEYS[1]) end, flags={'no-writes'}, description='reads'}""##;

fn key(s: &str) -> Frame {
    bulk(s)
}

#[test]
fn load_then_fcall_runs_callbacks_with_keys_and_argv() {
    let mut k = Kit::new();
    assert_eq!(k.reply(LIB), bulk("lib"));
    assert_eq!(k.reply("FCALL set1 1 a v"), ok());
    assert_eq!(k.reply("FCALL get1 1 a"), bulk("v"));
    assert_eq!(k.reply("FCALL_RO get1 1 a"), bulk("v"));
    let ro = "ERR Can not execute a script with write flag using *_ro command.";
    assert_eq!(k.reply("FCALL_RO set1 1 a v"), err(ro));
    assert_eq!(k.reply("FCALL nope 0"), err("ERR Function not found"));
    assert_eq!(
        k.reply("FCALL set1 x"),
        err("ERR Bad number of keys provided")
    );
    let many = "ERR Number of keys can't be greater than number of args";
    assert_eq!(k.reply("FCALL set1 3 a"), err(many));
    let exists = "ERR Library 'lib' already exists";
    assert_eq!(k.reply(LIB), err(exists));
    let replaced = LIB.replace("FUNCTION LOAD", "FUNCTION LOAD REPLACE");
    assert_eq!(k.reply(&replaced), bulk("lib"));
}

#[test]
fn load_errors_follow_redis() {
    let mut k = Kit::new();
    let cases = [
        ("FUNCTION LOAD \"return 1\"", "ERR Missing library metadata"),
        (
            "FUNCTION LOAD \"#!lua name=a\\nreturn 1\"",
            "ERR No functions registered",
        ),
        (
            "FUNCTION LOAD \"#!py name=a\\nreturn 1\"",
            "ERR Engine 'py' not found",
        ),
        (
            "FUNCTION LOAD \"#!lua name=a-b\\nreturn 1\"",
            &format!("ERR {}", crate::functions::BAD_NAME),
        ),
        ("FUNCTION LOAD X Y", "ERR Unknown option given: X"),
    ];
    for (line, text) in cases {
        assert_eq!(k.reply(line), err(text), "{line}");
    }
    let call = k.reply("FUNCTION LOAD \"#!lua name=a\\nredis.call('SET','x','1')\"");
    let Frame::Error(text) = call else { panic!() };
    assert!(
        text.starts_with("ERR Error registering functions: "),
        "{text}"
    );
    let flag = "FUNCTION LOAD \"#!lua name=a\\nredis.register_function{function_name='f', callback=function() end, flags={'bad'}}\"";
    let Frame::Error(text) = k.reply(flag) else {
        panic!()
    };
    assert!(text.contains("unknown flag given"), "{text}");
    assert_eq!(k.reply("FUNCTION LIST"), Frame::Array(vec![]));
    k.reply(LIB);
    let clash =
        "FUNCTION LOAD \"#!lua name=other\\nredis.register_function('set1', function() end)\"";
    assert_eq!(k.reply(clash), err("ERR Function set1 already exists"));
}

#[test]
fn list_delete_flush_and_stats() {
    let mut k = Kit::new();
    k.reply(LIB);
    let Frame::Array(libs) = k.reply("FUNCTION LIST LIBRARYNAME l* WITHCODE") else {
        panic!()
    };
    let Frame::Map(entry) = &libs[0] else {
        panic!()
    };
    assert_eq!(entry[0], (key("library_name"), bulk("lib")));
    assert_eq!(entry[1], (key("engine"), bulk("LUA")));
    assert_eq!(entry[3].0, key("library_code"));
    let Frame::Array(functions) = &entry[2].1 else {
        panic!()
    };
    let Frame::Map(get1) = &functions[0] else {
        panic!()
    };
    assert_eq!(get1[1], (key("description"), bulk("reads")));
    let flags = Frame::Set(vec![Frame::Simple("no-writes".into())]);
    assert_eq!(get1[2], (key("flags"), flags));
    assert_eq!(
        k.reply("FUNCTION LIST LIBRARYNAME x*"),
        Frame::Array(vec![])
    );
    let Frame::Map(stats) = k.reply("FUNCTION STATS") else {
        panic!()
    };
    let lua = Frame::Map(vec![
        (key("libraries_count"), int(1)),
        (key("functions_count"), int(2)),
    ]);
    assert_eq!(stats[1].1, Frame::Map(vec![(key("LUA"), lua)]));
    assert_eq!(
        k.reply("FUNCTION DELETE nope"),
        err("ERR Library not found")
    );
    assert_eq!(k.reply("FUNCTION DELETE lib"), ok());
    assert_eq!(k.reply("FCALL set1 1 a v"), err("ERR Function not found"));
    k.reply(LIB);
    k.reply("FLUSHALL");
    assert_eq!(k.reply("FCALL get1 1 a"), Frame::Null);
    assert_eq!(k.reply("FUNCTION FLUSH"), ok());
    assert_eq!(k.reply("FUNCTION LIST"), Frame::Array(vec![]));
    let kill = "NOTBUSY No scripts in execution right now.";
    assert_eq!(k.reply("FUNCTION KILL"), err(kill));
}

#[test]
fn management_is_propagated_as_sent_and_fcall_by_its_effects() {
    let mut k = Kit::new();
    let out = k.run(LIB);
    assert_eq!(logged(&out).len(), 1);
    assert!(logged(&out)[0]
        .1
        .starts_with("FUNCTION LOAD #!lua name=lib"));
    assert_eq!(
        k.logged("FCALL set1 1 a v"),
        vec![(0, "SET a v".to_string())]
    );
    assert_eq!(k.logged("FCALL get1 1 a"), vec![]);
    let writes_in_ro = "FUNCTION LOAD \"#!lua name=ro\\nredis.register_function{function_name='w', callback=function() return redis.call('SET','x','1') end, flags={'no-writes'}}\"";
    k.reply(writes_in_ro);
    let Frame::Error(text) = k.reply("FCALL w 0") else {
        panic!()
    };
    assert!(text.starts_with("ERR Write commands are not allowed from read-only scripts."));
    assert!(text.ends_with("script: w, on @user_function:2."), "{text}");
    assert_eq!(
        k.logged("FUNCTION DELETE ro"),
        vec![(0, "FUNCTION DELETE ro".into())]
    );
    k.write_denial = Some("MISCONF disk".into());
    assert_eq!(k.reply("FCALL set1 1 a v"), err("MISCONF disk"));
    assert_eq!(k.reply("FCALL get1 1 a"), bulk("v"));
    assert_eq!(k.reply("FUNCTION DELETE lib"), err("MISCONF disk"));
    assert_eq!(k.reply("FUNCTION FLUSH"), err("MISCONF disk"));
}

#[test]
fn function_and_script_commands_are_refused_from_scripts() {
    let mut k = Kit::new();
    let refused = "ERR This Redis command is not allowed from script";
    let got = k.reply(r#"EVAL "return redis.pcall('FUNCTION', 'FLUSH')" 0"#);
    assert_eq!(got, err(refused));
    let got = k.reply(r#"EVAL "return redis.pcall('SCRIPT', 'LOAD', 'return 1')" 0"#);
    assert_eq!(got, err(refused));
}

#[test]
fn libraries_survive_flushall_and_travel_in_rdb_and_resp_bases() {
    use crate::aof::base::encode_resp;
    use crate::rdb;
    let mut k = Kit::new();
    k.reply(LIB);
    k.reply("SET a 1");
    k.reply("FLUSHALL");
    assert_eq!(k.ks.functions.codes().count(), 1);
    let info = rdb::SaveInfo {
        aof_base: false,
        ctime_s: 0,
        used_mem: 0,
        compression: true,
        checksum: true,
    };
    let mut bytes = Vec::new();
    rdb::encode(&k.ks, &info, &mut bytes).unwrap();
    let opts = rdb::LoadOptions {
        now_ms: 0,
        drop_expired: false,
    };
    let mut loaded = crate::keyspace::Keyspace::default();
    let found = rdb::decode(&bytes, &mut loaded, &opts).unwrap();
    super::load_libraries(&mut loaded.functions, &found.functions).unwrap();
    assert_eq!(loaded.functions, k.ks.functions);
    let mut resp = Vec::new();
    encode_resp(&k.ks, &mut resp).unwrap();
    assert!(resp.starts_with(b"*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n"));
}

#[test]
fn dump_and_restore_follow_the_policies() {
    let mut k = Kit::new();
    k.reply(LIB);
    let Frame::Bulk(payload) = k.reply("FUNCTION DUMP") else {
        panic!()
    };
    assert_eq!(payload[0], 0xF5);
    let restore = |k: &mut Kit, policy: &[&[u8]]| {
        let mut argv = vec![
            bytes::Bytes::from_static(b"FUNCTION"),
            bytes::Bytes::from_static(b"RESTORE"),
            payload.clone(),
        ];
        argv.extend(policy.iter().map(|p| bytes::Bytes::copy_from_slice(p)));
        k.run_argv(1, &argv).reply
    };
    assert_eq!(restore(&mut k, &[]), err("ERR Library lib already exists"));
    assert_eq!(restore(&mut k, &[b"REPLACE"]), ok());
    let policy = "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.";
    assert_eq!(restore(&mut k, &[b"NO"]), err(policy));
    k.reply("FUNCTION FLUSH");
    let out = k.run_argv(
        1,
        &[
            bytes::Bytes::from_static(b"FUNCTION"),
            bytes::Bytes::from_static(b"RESTORE"),
            payload.clone(),
        ],
    );
    assert_eq!(out.reply, ok());
    assert_eq!(out.propagate.len(), 1);
    assert_eq!(k.reply("FCALL set1 1 a v"), ok());
    let bad = k.reply("FUNCTION RESTORE xxxxxxxxxxxxxxxxxxxx");
    assert_eq!(bad, err("ERR DUMP payload version or checksum are wrong"));
}
