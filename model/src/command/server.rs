//! Connection-level commands that touch no key: PING, ECHO, TIME.
//!
//! Invariant: TIME reads `ctx.now_ms` only, so replies are a function of the inputs.

use bytes::Bytes;

use super::exec::Exec;
use super::reply;
use crate::resp::Frame;

/// PING [message]. A RESP2 client in Pub/Sub mode gets `["pong", message]`, as Redis sends it
/// there (a plain `+PONG` could not be told apart from a message).
pub(crate) fn ping(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    if !x.session.resp3 && x.shared.pubsub.is_subscriber(x.session.client_id) {
        let message = argv.get(1).map_or(Frame::Bulk(Bytes::new()), reply::bulk);
        return Frame::Push(vec![reply::bulk_str("pong"), message]);
    }
    match argv {
        [_] => Frame::Simple("PONG".to_string()),
        [_, message] => reply::bulk(message),
        _ => reply::wrong_arity("ping"),
    }
}

pub(crate) fn echo(_x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    reply::bulk(&argv[1])
}

/// TIME: unix seconds and microseconds (of `ctx.now_ms`, so a multiple of 1000).
/// CLUSTER: durakv runs as Redis does without `cluster-enabled`.
pub(crate) fn cluster(_x: &mut Exec<'_>, _argv: &[Bytes]) -> Frame {
    Frame::error("ERR This instance has cluster support disabled")
}

pub(crate) fn time(x: &mut Exec<'_>, _argv: &[Bytes]) -> Frame {
    let (seconds, micros) = (x.ctx.now_ms / 1000, (x.ctx.now_ms % 1000) * 1000);
    Frame::Array(vec![
        Frame::Bulk(Bytes::from(seconds.to_string())),
        Frame::Bulk(Bytes::from(micros.to_string())),
    ])
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;

    #[test]
    fn ping_echo_time() {
        let mut k = Kit::new();
        assert_eq!(k.reply("PING"), simple("PONG"));
        assert_eq!(k.reply("ping hi"), bulk("hi"));
        assert_eq!(
            k.reply("PING a b"),
            err("ERR wrong number of arguments for 'ping' command")
        );
        assert_eq!(k.reply("ECHO x"), bulk("x"));
        assert_eq!(
            k.reply("ECHO"),
            err("ERR wrong number of arguments for 'echo' command")
        );
        k.now_ms = 1_700_000_000_123;
        assert_eq!(k.reply("TIME"), array(&["1700000000", "123000"]));
        assert!(k.run("PING").propagate.is_empty());
    }

    #[test]
    fn unknown_commands_are_refused_like_redis() {
        let mut k = Kit::new();
        assert_eq!(
            k.reply("foo a b"),
            err("ERR unknown command 'foo', with args beginning with: 'a' 'b' ")
        );
        assert_eq!(
            k.reply("CONFIG GET x"),
            err("ERR unknown command 'CONFIG', with args beginning with: 'GET' 'x' ")
        );
    }
}
