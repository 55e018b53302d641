//! Scripting against Redis 7.0's replies (texts taken from a real 7.0.15 server): conversion
//! both ways through EVAL, error texts, NOSCRIPT, global protection, `_RO` refusal, MISCONF,
//! and effects propagation (the script's writes, in MULTI/EXEC when more than one).

use super::super::testkit::{array, bulk, err, int, logged, ok, simple, Kit};
use crate::resp::Frame;

const SHA_RETURN_1: &str = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db";

#[test]
fn replies_convert_as_redis_does() {
    let mut k = Kit::new();
    let nested = Frame::Array(vec![int(1), int(2), Frame::Array(vec![int(3), bulk("x")])]);
    assert_eq!(k.reply(r#"EVAL "return {1,2,{3,'x'},nil,5}" 0"#), nested);
    assert_eq!(k.reply(r#"EVAL "return 3.99" 0"#), int(3));
    assert_eq!(k.reply(r#"EVAL "return true" 0"#), int(1));
    assert_eq!(k.reply(r#"EVAL "return false" 0"#), Frame::Null);
    assert_eq!(k.reply(r#"EVAL "return" 0"#), Frame::Null);
    assert_eq!(k.reply(r#"EVAL "return {ok='fine'}" 0"#), simple("fine"));
    assert_eq!(k.reply(r#"EVAL "return {err='x'}" 0"#), err("x"));
    assert_eq!(
        k.reply(r#"EVAL "return redis.error_reply('E1 bad')" 0"#),
        err("E1 bad")
    );
    assert_eq!(
        k.reply(r#"EVAL "return redis.error_reply('bad')" 0"#),
        err("ERR bad")
    );
    assert_eq!(
        k.reply(r#"EVAL "return redis.status_reply('S')" 0"#),
        simple("S")
    );
    let sha = k.reply(r#"EVAL "return redis.sha1hex('')" 0"#);
    assert_eq!(sha, bulk("da39a3ee5e6b4b0d3255bfef95601890afd80709"));
    assert_eq!(
        k.reply(r#"EVAL "return {KEYS[2], ARGV[1]}" 2 a b c"#),
        array(&["b", "c"])
    );
}

#[test]
fn redis_replies_convert_to_lua_as_redis_does() {
    let mut k = Kit::new();
    k.reply("SET s hello");
    let types = "local r = {} \
        for i, c in ipairs({{'GET','s'}, {'GET','none'}, {'INCR','n'}, {'SET','t','1'}}) do \
          local v = redis.call(unpack(c)) \
          r[i] = type(v) .. ':' .. (type(v) == 'table' and v.ok or tostring(v)) \
        end return r";
    let got = k.reply(&format!("EVAL \"{types}\" 0"));
    assert_eq!(
        got,
        array(&["string:hello", "boolean:false", "number:1", "table:OK"])
    );
    let pcall = k.reply(r#"EVAL "return redis.pcall('INCR', KEYS[1]).err" 1 s"#);
    assert_eq!(pcall, bulk("ERR value is not an integer or out of range"));
    // Numbers go to commands as C's %.17g.
    k.reply(r#"EVAL "return redis.call('SET', 'f', 0.1)" 0"#);
    assert_eq!(k.reply("GET f"), bulk("0.10000000000000001"));
}

#[test]
fn errors_read_as_redis_7_0_writes_them() {
    let mut k = Kit::new();
    let cases = [
        (
            "return redis.call('nosuch')",
            "ERR Unknown Redis command called from script",
        ),
        (
            "return redis.call('get')",
            "ERR Wrong number of args calling Redis command from script",
        ),
        (
            "return redis.call('multi')",
            "ERR This Redis command is not allowed from script",
        ),
        (
            "return redis.call({})",
            "ERR Lua redis lib command arguments must be strings or integers",
        ),
        (
            "return redis.call()",
            "ERR Please specify at least one argument for this redis lib call",
        ),
        ("error('boom')", "ERR user_script:1: boom"),
        ("error({err='MY x'})", "MY x"),
        (
            "x=1",
            "ERR user_script:1: Attempt to modify a readonly table",
        ),
        (
            "return y",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'y'",
        ),
        (
            "redis = nil",
            "ERR user_script:1: Attempt to modify a readonly table",
        ),
        (
            "string.foo = 1",
            "ERR user_script:1: Attempt to modify a readonly table",
        ),
    ];
    for (script, text) in cases {
        let sha = String::from_utf8(super::cache::sha1hex(script.as_bytes()).to_vec()).unwrap();
        let expected = format!("{text} script: {sha}, on @user_script:1.");
        assert_eq!(
            k.reply(&format!("EVAL \"{script}\" 0")),
            err(&expected),
            "{script}"
        );
    }
    let unknown = k.reply(r#"EVAL "return redis.pcall('nosuch')" 0"#);
    assert_eq!(unknown, err("ERR Unknown Redis command called from script"));
    let compile = k.reply(r#"EVAL "syntax error here" 0"#);
    let text =
        "ERR Error compiling script (new function): user_script:1: '=' expected near 'error'";
    assert_eq!(compile, err(text));
    assert_eq!(
        k.reply(r#"EVAL "return 1" -1"#),
        err("ERR Number of keys can't be negative")
    );
    let many = "ERR Number of keys can't be greater than number of args";
    assert_eq!(k.reply(r#"EVAL "return 1" 5 a"#), err(many));
    assert_eq!(
        k.reply(r#"EVAL "return 1" x"#),
        err("ERR value is not an integer or out of range")
    );
}

#[test]
fn evalsha_needs_a_cached_script() {
    let mut k = Kit::new();
    let noscript = err("NOSCRIPT No matching script. Please use EVAL.");
    assert_eq!(k.reply(&format!("EVALSHA {SHA_RETURN_1} 0")), noscript);
    assert_eq!(k.reply("EVALSHA short 0"), noscript);
    assert_eq!(k.reply(r#"SCRIPT LOAD "return 1""#), bulk(SHA_RETURN_1));
    assert_eq!(
        k.reply(&format!("EVALSHA {} 0", SHA_RETURN_1.to_uppercase())),
        int(1)
    );
    assert_eq!(
        k.reply(&format!("SCRIPT EXISTS {SHA_RETURN_1} nope")),
        Frame::Array(vec![int(1), int(0)])
    );
    assert_eq!(k.reply("SCRIPT FLUSH ASYNC"), ok());
    assert_eq!(k.reply(&format!("EVALSHA {SHA_RETURN_1} 0")), noscript);
    // EVAL caches what it ran; a script that does not compile is not cached.
    k.reply(r#"EVAL "return 1" 0"#);
    assert_eq!(k.shared.scripts.len(), 1);
    k.reply(r#"EVAL "return (" 0"#);
    assert_eq!(k.shared.scripts.len(), 1);
    assert_eq!(
        k.reply("SCRIPT KILL"),
        err("NOTBUSY No scripts in execution right now.")
    );
    assert_eq!(
        k.reply("SCRIPT FLUSH x"),
        err("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    );
    assert_eq!(k.reply("FUNCTION LIST"), Frame::Array(vec![]));
    assert_eq!(
        k.logged("FUNCTION FLUSH"),
        [(0, "FUNCTION FLUSH".to_string())]
    );
}

#[test]
fn a_scripts_writes_propagate_in_multi_exec_and_eval_never_does() {
    let mut k = Kit::new();
    let two =
        r#"EVAL "redis.call('SET',KEYS[1],ARGV[1]); return redis.call('INCR',KEYS[2])" 2 a n 5"#;
    let out = k.run(two);
    assert_eq!(out.reply, int(1));
    let words = ["MULTI", "SET a 5", "INCR n", "EXEC"].map(|w| (0, w.to_string()));
    assert_eq!(logged(&out), words);
    assert_eq!(out.dirty, 2);
    let one = k.logged(r#"EVAL "return redis.call('SET',KEYS[1],'x')" 1 a"#);
    assert_eq!(one, [(0, "SET a x".to_string())]);
    assert!(k
        .logged(r#"EVAL "return redis.call('GET',KEYS[1])" 1 a"#)
        .is_empty());
    // A write that failed changes nothing and propagates nothing; the caller's db stays.
    assert!(k
        .logged(r#"EVAL "return redis.pcall('INCR','a')" 0"#)
        .is_empty());
    let select = k.logged(r#"EVAL "redis.call('SELECT','3'); return redis.call('SET','b','1')" 0"#);
    assert_eq!(select, [(3, "SET b 1".to_string())]);
    assert_eq!(k.reply("GET a"), bulk("x"));
}

#[test]
fn inside_multi_the_scripts_writes_join_the_transaction() {
    let mut k = Kit::new();
    k.reply("MULTI");
    k.reply(r#"EVAL "return redis.call('SET','a','1')" 0"#);
    k.reply("INCR n");
    let words = ["MULTI", "SET a 1", "INCR n", "EXEC"].map(|w| (0, w.to_string()));
    assert_eq!(k.logged("EXEC"), words);
}

#[test]
fn read_only_scripts_and_misconf_refuse_writes() {
    let mut k = Kit::new();
    let ro = k.reply(r#"EVAL_RO "return redis.call('SET','a','b')" 0"#);
    let text = "ERR Write commands are not allowed from read-only scripts.";
    assert!(
        matches!(&ro, Frame::Error(e) if e.starts_with(text)),
        "{ro:?}"
    );
    assert_eq!(
        k.reply(r#"EVAL_RO "return redis.call('GET','a')" 0"#),
        Frame::Null
    );
    k.write_denial = Some("MISCONF Errors writing to the AOF file: disk full".into());
    assert_eq!(
        k.reply(r#"EVAL "return redis.call('GET','a')" 0"#),
        Frame::Null
    );
    let misconf = k.run(r#"EVAL "return redis.call('SET','a','b')" 0"#);
    let refused =
        matches!(&misconf.reply, Frame::Error(e) if e.starts_with("MISCONF Errors writing"));
    assert!(refused, "{:?}", misconf.reply);
    assert!(misconf.propagate.is_empty());
}

#[test]
fn scripts_leave_nothing_behind_and_run_deterministically() {
    let mut k = Kit::new();
    let rawset = k.reply(r#"EVAL "rawset(_G, 'q', 1) return 1" 0"#);
    assert!(matches!(rawset, Frame::Error(_)));
    let q = k.reply(r#"EVAL "return q" 0"#);
    assert!(matches!(&q, Frame::Error(e) if e.contains("nonexistent global variable 'q'")));
    let random = r#"EVAL "return {math.random(100), math.random(100)}" 0"#;
    assert_eq!(k.reply(random), k.reply(random));
    let print = k.reply(r#"EVAL "return type(print)" 0"#);
    let denied =
        "ERR user_script:1: Script attempted to access nonexistent global variable 'print'";
    assert!(
        matches!(&print, Frame::Error(e) if e.starts_with(denied)),
        "{print:?}"
    );
}

#[test]
fn a_runaway_script_is_stopped_even_through_pcall() {
    let mut k = Kit::new();
    super::vm::set_budget(2_000_000);
    k.reply(r#"EVAL "redis.call('SET','a','1')" 0"#);
    let out = k.run(r#"EVAL "redis.call('SET','b','1') while true do pcall(function() while true do end end) end" 0"#);
    let stopped = matches!(&out.reply, Frame::Error(e) if e.starts_with(super::vm::BUDGET_SPENT));
    assert!(stopped, "{:?}", out.reply);
    // What it wrote before is kept and logged, as any script error leaves earlier writes.
    assert_eq!(logged(&out), [(0, "SET b 1".to_string())]);
    assert_eq!(k.reply(r#"EVAL "return 1" 0"#), int(1));
}
