//! The libraries against replies taken from a real Redis 7.0.15 (the same scripts sent to
//! `redis-server` and to durakv; the texts below are Redis's).

use super::super::super::testkit::{bulk, int, Kit};
use crate::resp::Frame;
use crate::test_argv::argv;

fn eval(k: &mut Kit, script: &str) -> Frame {
    k.run_argv(1, &argv(&["EVAL", script, "0"])).reply
}

const HEX: &str =
    "local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end \
                   return h";

#[test]
fn cjson_encodes_and_decodes_as_lua_cjson() {
    let mut k = Kit::new();
    let numbers = "return table.concat(cjson.decode('[0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10]'), ' ')";
    assert_eq!(eval(&mut k, numbers), bulk("0 -5000 -1 0.0003 1023.2 0"));
    let encode =
        "return cjson.encode({a={1,2,3},b='x/y\\n',c=true,d=cjson.null,e=1.5,f=2^53,g={}})";
    let expected =
        r#"{"a":[1,2,3],"c":true,"b":"x\/y\n","e":1.5,"d":null,"g":{},"f":9.007199254741e+15}"#;
    assert_eq!(eval(&mut k, encode), bulk(expected));
    let unicode = r#"return cjson.encode(cjson.decode([["\u00e9\ud83d\ude00"]]))"#;
    assert_eq!(eval(&mut k, unicode), bulk("\"é😀\""));
}

#[test]
fn cjson_errors_name_the_script_line() {
    let mut k = Kit::new();
    let cases = [
        (
            "return cjson.decode('[1,2')",
            "Expected comma or array end but found T_END at character 5",
        ),
        (
            "return cjson.decode('{\"a\" 1}')",
            "Expected colon but found T_NUMBER at character 6",
        ),
        (
            "return cjson.encode({[false]=1})",
            "Cannot serialise boolean: table key must be a number or string",
        ),
        (
            "return cjson.encode({[1]=1,[20]=2})",
            "Cannot serialise table: excessively sparse array",
        ),
        (
            "return cjson.encode(0/0)",
            "Cannot serialise number: must not be NaN or Inf",
        ),
        (
            "cjson.decode_max_depth(1) return cjson.decode('[[1]]')",
            "Found too many nested data structures (2) at character 2",
        ),
    ];
    for (script, text) in cases {
        let Frame::Error(got) = eval(&mut k, script) else {
            panic!("{script}: no error")
        };
        let want = format!("ERR user_script:1: {text} script: ");
        assert!(got.starts_with(&want), "{script}: {got}");
    }
    // Settings do not outlive the script that changed them.
    assert_eq!(eval(&mut k, "return cjson.decode('[[1]]')[1][1]"), int(1));
}

#[test]
fn cmsgpack_packs_as_lua_cmsgpack() {
    let mut k = Kit::new();
    let pack = |x: &str| format!("local e = cmsgpack.pack({x}) {HEX}");
    assert_eq!(eval(&mut k, &pack("0.1")), bulk("cb3fb999999999999a"));
    assert_eq!(
        eval(&mut k, &pack("-1099511627776")),
        bulk("d3ffffff0000000000")
    );
    assert_eq!(
        eval(&mut k, &pack("0.5, -33, 200, true, nil")),
        bulk("ca3f000000d0dfccc8c3c0")
    );
    let cycle = format!(
        "local a = {{x=nil,y=5}} local b = {{x=a}} a['x'] = b local e = cmsgpack.pack(a) {HEX}"
    );
    let expected = "82a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a178c0";
    assert_eq!(eval(&mut k, &cycle), bulk(expected));
    let round = "local s = string.rep('x', 300) \
        local o, v = cmsgpack.unpack_limit(cmsgpack.pack('a', s), 1, 0) \
        local o2, v2 = cmsgpack.unpack_limit(cmsgpack.pack('a', s), 1, o) \
        return {o, v, o2, #v2, cmsgpack.unpack(cmsgpack.pack({1, 2}))[2]}";
    let got = eval(&mut k, round);
    assert_eq!(
        got,
        Frame::Array(vec![int(2), bulk("a"), int(-1), int(300), int(2)])
    );
    let Frame::Error(bad) = eval(&mut k, "return cmsgpack.unpack('\\218\\0')") else {
        panic!()
    };
    assert!(
        bad.starts_with("ERR user_script:1: Missing bytes in input."),
        "{bad}"
    );
}

#[test]
fn bit_works_on_32_bits() {
    let mut k = Kit::new();
    let script =
        "return {bit.tobit(1), bit.band(1), bit.bxor(1,2), bit.bor(1,2,4,8,16,32,64,128), \
        bit.tohex(-1), bit.tohex(255,-4), bit.lshift(1,31), bit.arshift(-256,4), \
        bit.rol(0x12345678, 8), bit.bswap(0x12345678), bit.tobit(2^32+5)}";
    let want = Frame::Array(vec![
        int(1),
        int(1),
        int(3),
        int(255),
        bulk("ffffffff"),
        bulk("00FF"),
        int(-2147483648),
        int(-16),
        int(878082066),
        int(2018915346),
        int(5),
    ]);
    assert_eq!(eval(&mut k, script), want);
}

#[test]
fn libraries_and_globals_are_read_only() {
    let mut k = Kit::new();
    for script in [
        "cjson.encode = 1",
        "cmsgpack.pack = 1",
        "bit.lshift = 1",
        "setmetatable(_G, {})",
        "local g = getmetatable(_G) g.__index = {}",
        "local f = loadstring('x = 1') f()",
    ] {
        let Frame::Error(got) = eval(&mut k, script) else {
            panic!("{script}: no error")
        };
        assert!(
            got.contains("Attempt to modify a readonly table"),
            "{script}: {got}"
        );
    }
    let binary = "return loadstring(string.dump(function() return 1 end))()";
    let Frame::Error(got) = eval(&mut k, binary) else {
        panic!("bytecode loaded")
    };
    assert!(got.contains("attempt to call a nil value"), "{got}");
    assert_eq!(eval(&mut k, "return loadstring('return 7')()"), int(7));
    assert_eq!(
        eval(&mut k, "return {cjson ~= nil, type(cjson.null)}"),
        array_of(int(1), "userdata")
    );
}

fn array_of(first: Frame, second: &str) -> Frame {
    Frame::Array(vec![first, bulk(second)])
}

#[test]
fn resp3_scripts_see_and_return_resp3_types() {
    let mut k = Kit::new();
    k.run_argv(1, &argv(&["HSET", "h", "f", "v"]));
    k.run_argv(1, &argv(&["ZADD", "z", "1.5", "m"]));
    let map = "redis.setresp(3) local m = redis.call('HGETALL', 'h') return {m.map.f, type(redis.call('GET', 'none'))}";
    assert_eq!(
        eval(&mut k, map),
        Frame::Array(vec![bulk("v"), bulk("nil")])
    );
    let flat = "redis.setresp(2) return redis.call('HGETALL', 'h')";
    assert_eq!(eval(&mut k, flat), Frame::Array(vec![bulk("f"), bulk("v")]));
    let double = "redis.setresp(3) return {double = redis.call('ZSCORE', 'z', 'm').double * 2}";
    assert_eq!(eval(&mut k, double), Frame::Double("3".into()));
    assert_eq!(
        eval(&mut k, "redis.setresp(3) return false"),
        Frame::Boolean(false)
    );
    assert_eq!(eval(&mut k, "return false"), Frame::Null);
    let returned = "return {map={a=1}, set={}}";
    assert_eq!(
        eval(&mut k, returned),
        Frame::Map(vec![(bulk("a"), int(1))])
    );
    // The protocol does not outlive the script that chose it.
    assert_eq!(eval(&mut k, "return true"), int(1));
    let Frame::Error(bad) = eval(&mut k, "redis.setresp(4)") else {
        panic!()
    };
    assert!(bad.starts_with("ERR RESP version must be 2 or 3."), "{bad}");
}

#[test]
fn debug_protocol_reaches_scripts_only_when_deny_scripts_is_disabled() {
    let mut k = Kit::new();
    let call = "redis.setresp(3) return redis.call('DEBUG', 'PROTOCOL', 'bignum')";
    let Frame::Error(refused) = eval(&mut k, call) else {
        panic!()
    };
    assert!(
        refused.starts_with("ERR This Redis command is not allowed from script"),
        "{refused}"
    );
    k.shared.deny_scripts_disabled = true;
    let big = Frame::BigNumber("1234567999999999999999999999999999999".into());
    assert_eq!(eval(&mut k, call), big);
    let resp2 = "return redis.call('DEBUG', 'PROTOCOL', 'double')";
    assert_eq!(eval(&mut k, resp2), bulk("3.141"));
    assert_eq!(
        eval(
            &mut k,
            "redis.setresp(3) return redis.call('DEBUG', 'PROTOCOL', 'false')"
        ),
        Frame::Boolean(false)
    );
    assert_eq!(
        eval(&mut k, "return redis.call('DEBUG', 'SLEEP', '0.01')"),
        Frame::Simple("OK".into())
    );
}
