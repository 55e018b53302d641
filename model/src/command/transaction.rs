//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Invariants: between MULTI and EXEC commands are validated (known, arity) and queued, a
//! refused one fails the transaction (`EXECABORT`); EXEC runs the queue as one execution unit,
//! so its writes are propagated once, wrapped in MULTI/EXEC iff there is more than one; a
//! transaction whose watched keys changed (or expired) replies a null array and runs and
//! propagates nothing; EXEC, DISCARD and UNWATCH always leave the client watching nothing.

use bytes::Bytes;

use super::exec::{call, Exec};
use super::reply;
use super::state::{Ctx, Multi, Queued, Session, Shared};
use crate::keyspace::Stored;
use crate::resp::Frame;

pub(crate) fn multi(x: &mut Exec<'_>, _argv: &[Bytes]) -> Frame {
    if x.session.in_multi() {
        return reply::err("ERR MULTI calls can not be nested");
    }
    x.session.multi = Some(Multi::default());
    reply::ok()
}

pub(crate) fn exec(x: &mut Exec<'_>, _argv: &[Bytes]) -> Frame {
    let queued = match exec_begin(x.shared, x.session, &x.ctx) {
        Ok(queued) => queued,
        Err(frame) => return frame,
    };
    let replies = queued
        .iter()
        .map(|queued| call(x, x.command(queued.command), &queued.argv))
        .collect();
    Frame::Array(replies)
}

/// EXEC's checks: ends the transaction and unwatches; `Err` is the reply when nothing may run
/// (no MULTI, a command refused while queuing, a watched key changed), else the queue to run.
pub(crate) fn exec_begin(
    shared: &mut Shared,
    session: &mut Session,
    ctx: &Ctx,
) -> Result<Vec<Queued>, Frame> {
    let Some(multi) = session.multi.take() else {
        return Err(reply::err("ERR EXEC without MULTI"));
    };
    let client = session.client_id;
    let watches = &mut shared.watches;
    let changed =
        watches.is_dirty(client) || watches.expired_since_watch(client, ctx.now_ms, ctx.loading);
    // Unwatch before running: the transaction's own writes must not dirty it.
    watches.forget(client);
    if multi.failed {
        return Err(reply::err(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    if changed {
        return Err(Frame::NullArray);
    }
    Ok(multi.queued)
}

pub(crate) fn discard(x: &mut Exec<'_>, _argv: &[Bytes]) -> Frame {
    if x.session.multi.take().is_none() {
        return reply::err("ERR DISCARD without MULTI");
    }
    x.shared.watches.forget(x.session.client_id);
    reply::ok()
}

pub(crate) fn watch(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    if x.session.in_multi() {
        return reply::err("ERR WATCH inside MULTI is not allowed");
    }
    let (client, db) = (x.session.client_id, x.db());
    for key in &argv[1..] {
        let stored = x.ks.dbs[db].get_stored(key);
        let expired = stored.is_some_and(|s| x.is_expired_stored(s));
        let expire_at_ms = stored.and_then(Stored::expire_at_ms);
        x.shared
            .watches
            .watch(client, db, key, expire_at_ms, expired);
    }
    reply::ok()
}

pub(crate) fn unwatch(x: &mut Exec<'_>, _argv: &[Bytes]) -> Frame {
    x.shared.watches.forget(x.session.client_id);
    reply::ok()
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;

    #[test]
    fn multi_exec_queues_and_wraps_more_than_one_write() {
        let mut k = Kit::new();
        assert_eq!(k.reply("MULTI"), ok());
        assert_eq!(k.reply("SET a 1"), simple("QUEUED"));
        assert_eq!(k.reply("INCR a"), simple("QUEUED"));
        assert_eq!(k.reply("GET a"), simple("QUEUED"));
        let out = k.run("EXEC");
        assert_eq!(out.reply, Frame::Array(vec![ok(), int(2), bulk("2")]));
        assert_eq!(
            logged(&out),
            vec![
                (0, "MULTI".to_string()),
                (0, "SET a 1".to_string()),
                (0, "INCR a".to_string()),
                (0, "EXEC".to_string())
            ]
        );
        assert_eq!(out.dirty, 2);
    }

    #[test]
    fn a_transaction_with_one_write_is_logged_bare_and_read_only_not_at_all() {
        let mut k = Kit::new();
        k.run("MULTI");
        k.run("GET a");
        k.run("SET a 1");
        assert_eq!(k.logged("EXEC"), vec![(0, "SET a 1".to_string())]);
        k.run("MULTI");
        k.run("GET a");
        assert_eq!(k.logged("EXEC"), vec![]);
    }

    #[test]
    fn select_inside_exec_moves_later_commands_to_the_new_db() {
        let mut k = Kit::new();
        k.run("MULTI");
        k.run("SET a 1");
        k.run("SELECT 5");
        k.run("SET b 2");
        assert_eq!(
            k.logged("EXEC"),
            vec![
                (0, "MULTI".to_string()),
                (0, "SET a 1".to_string()),
                (5, "SET b 2".to_string()),
                (5, "EXEC".to_string())
            ]
        );
        assert_eq!(k.sessions[&1].db, 5);
    }

    #[test]
    fn queue_time_errors_abort_exec() {
        let mut k = Kit::new();
        k.run("MULTI");
        assert_eq!(
            k.reply("SET a"),
            err("ERR wrong number of arguments for 'set' command")
        );
        assert_eq!(
            k.reply("NOSUCH x"),
            err("ERR unknown command 'NOSUCH', with args beginning with: 'x' ")
        );
        k.run("SET b 1");
        let out = k.run("EXEC");
        assert_eq!(
            out.reply,
            err("EXECABORT Transaction discarded because of previous errors.")
        );
        assert!(out.propagate.is_empty());
        assert_eq!(k.reply("GET b"), Frame::Null);
        assert!(!k.sessions[&1].in_multi());
    }

    #[test]
    fn runtime_errors_do_not_abort_the_rest() {
        let mut k = Kit::new();
        k.run("SET s abc");
        k.run("MULTI");
        k.run("INCR s");
        k.run("SET t 1");
        let out = k.run("EXEC");
        assert_eq!(
            out.reply,
            Frame::Array(vec![
                err("ERR value is not an integer or out of range"),
                ok()
            ])
        );
        assert_eq!(logged(&out), vec![(0, "SET t 1".to_string())]);
    }

    #[test]
    fn control_commands_misuse() {
        let mut k = Kit::new();
        assert_eq!(k.reply("EXEC"), err("ERR EXEC without MULTI"));
        assert_eq!(k.reply("DISCARD"), err("ERR DISCARD without MULTI"));
        k.run("MULTI");
        assert_eq!(k.reply("MULTI"), err("ERR MULTI calls can not be nested"));
        assert_eq!(
            k.reply("WATCH a"),
            err("ERR WATCH inside MULTI is not allowed")
        );
        k.run("SET a 1");
        assert_eq!(
            k.reply("EXEC"),
            Frame::Array(vec![ok()]),
            "those errors do not fail the transaction"
        );
        k.run("MULTI");
        k.run("SET a 2");
        assert_eq!(k.reply("DISCARD"), ok());
        assert_eq!(k.reply("GET a"), bulk("1"));
    }

    #[test]
    fn watch_fails_exec_when_another_client_writes() {
        let mut k = Kit::new();
        k.run("SET a 1");
        assert_eq!(k.reply("WATCH a"), ok());
        k.run_as(2, "SET a 2");
        k.run("MULTI");
        k.run("SET a 3");
        let out = k.run("EXEC");
        assert_eq!((&out.reply, out.propagate.len()), (&Frame::NullArray, 0));
        assert_eq!(k.reply("GET a"), bulk("2"));
        assert_eq!(k.shared.watches.len(), 0);
    }

    #[test]
    fn watch_ignores_unrelated_and_failed_writes() {
        let mut k = Kit::new();
        k.run("SET a 1");
        k.run("WATCH a b");
        k.run_as(2, "SET c 1");
        k.run_as(2, "SET a 1 NX");
        k.run_as(2, "DEL b");
        k.run_as(2, "SELECT 1");
        k.run_as(2, "SET a 5");
        k.run("MULTI");
        k.run("SET a 3");
        assert_eq!(k.reply("EXEC"), Frame::Array(vec![ok()]));
    }

    #[test]
    fn unwatch_and_discard_clear_watches() {
        let mut k = Kit::new();
        k.run("WATCH a");
        k.run("UNWATCH");
        k.run_as(2, "SET a 1");
        k.run("MULTI");
        assert_eq!(k.reply("EXEC"), Frame::Array(vec![]));
        k.run("WATCH a");
        k.run("MULTI");
        k.run("DISCARD");
        k.run_as(2, "SET a 2");
        k.run("MULTI");
        assert_eq!(k.reply("EXEC"), Frame::Array(vec![]));
    }

    #[test]
    fn watch_sees_flush_swap_and_expiry() {
        let mut k = Kit::new();
        let watch_then = |k: &mut Kit, other: &str| {
            k.run("WATCH a");
            k.run_as(2, other);
            k.run("MULTI");
            k.reply("EXEC")
        };
        assert_eq!(
            watch_then(&mut k, "FLUSHALL"),
            Frame::Array(vec![]),
            "flushing nothing watched changes nothing"
        );
        k.run("SET a 1");
        assert_eq!(watch_then(&mut k, "FLUSHDB"), Frame::NullArray);
        k.run("SET a 1");
        assert_eq!(
            watch_then(&mut k, "SWAPDB 0 1"),
            Frame::NullArray,
            "the key left db 0"
        );
        k.run("SET a 1 PX 10");
        k.run("WATCH a");
        k.now_ms += 11;
        k.run("MULTI");
        assert_eq!(
            k.reply("EXEC"),
            Frame::NullArray,
            "a watched key that expired fails EXEC"
        );
    }

    #[test]
    fn watch_catches_keys_removed_by_active_expiry() {
        let mut k = Kit::new();
        k.run("SET a 1 PX 10");
        k.run("WATCH a");
        k.now_ms += 11;
        // The engine's cron, with no access to the watch table.
        assert_eq!(
            crate::command::active_expire(&mut k.ks, k.now_ms, 100).len(),
            1
        );
        k.run("MULTI");
        assert_eq!(k.reply("EXEC"), Frame::NullArray);
    }

    #[test]
    fn a_key_already_expired_when_watched_may_be_reclaimed() {
        let mut k = Kit::new();
        k.run("SET a 1 PX 10");
        k.now_ms += 11;
        k.run("WATCH a");
        k.run_as(2, "GET a");
        k.run("MULTI");
        assert_eq!(
            k.reply("EXEC"),
            Frame::Array(vec![]),
            "its lazy deletion is no change"
        );
        k.run("WATCH a");
        k.run_as(2, "SET a 2");
        k.run("MULTI");
        assert_eq!(k.reply("EXEC"), Frame::NullArray);
    }

    #[test]
    fn closing_a_client_forgets_its_watches() {
        let mut k = Kit::new();
        k.run("WATCH a b");
        k.run_as(2, "WATCH a");
        assert_eq!(k.shared.watches.len(), 3);
        crate::command::client_closed(&mut k.shared, 1);
        assert_eq!(k.shared.watches.len(), 1);
        crate::command::reset_session(&mut k.shared, k.sessions.get_mut(&2).unwrap());
        assert_eq!(k.shared.watches.len(), 0);
    }
}
