//! CLIENT LIST and CLIENT INFO: one line per connection in Redis 7.0's field order
//! (networking.c `catClientInfoString`), with Redis 7.2's `lib-name` and `lib-ver` after
//! `resp`.
//!
//! Owns nothing but the rendering. Invariant: every field Redis prints is present, in its
//! order, so parsers written for Redis read it; fields durakv knows carry true values (id,
//! addresses, fd, name, age, idle, flags, db, multi, cmd, resp, library), the buffer and
//! memory fields it does not track print 0.

use bytes::Bytes;

use crate::command;
use crate::resp::{parse_integer, Frame};

use super::clients::{ClientId, LastCommand};
use super::Engine;

impl Engine {
    /// CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id ...].
    pub(super) fn client_list(&self, now_ms: u64, args: &[Bytes]) -> Frame {
        let ids: Vec<ClientId> = match args {
            [] => self.clients.info.keys().copied().collect(),
            [kind, t] if kind.eq_ignore_ascii_case(b"TYPE") => {
                match t.to_ascii_lowercase().as_slice() {
                    b"normal" | b"replica" | b"slave" => {
                        let replicas = !t.eq_ignore_ascii_case(b"normal");
                        let ids = self.clients.info.keys().copied();
                        ids.filter(|&id| self.repl.is_replica(id) == replicas)
                            .collect()
                    }
                    b"master" | b"pubsub" => Vec::new(),
                    _ => {
                        let t = String::from_utf8_lossy(t);
                        return Frame::error(format!("ERR Unknown client type '{t}'"));
                    }
                }
            }
            [kind, ids @ ..] if kind.eq_ignore_ascii_case(b"ID") && !ids.is_empty() => {
                let mut found = Vec::new();
                for id in ids {
                    let Some(id) = parse_integer(id) else {
                        return Frame::error("ERR Invalid client ID");
                    };
                    let id = id as ClientId;
                    if self.clients.info.contains_key(&id) {
                        found.push(id);
                    }
                }
                found
            }
            _ => return Frame::error("ERR syntax error"),
        };
        let text: String = ids
            .into_iter()
            .map(|id| self.client_line(now_ms, id) + "\n")
            .collect();
        Frame::text(text)
    }

    /// One connection's line, without the newline.
    pub(super) fn client_line(&self, now_ms: u64, id: ClientId) -> String {
        let info = self.clients.info.get(&id).cloned().unwrap_or_default();
        let session = self.clients.session(id);
        let text = |b: &Option<Bytes>| {
            String::from_utf8_lossy(b.as_deref().unwrap_or_default()).into_owned()
        };
        let conn = info.conn.as_ref();
        let (addr, laddr, fd) = conn.map_or((String::new(), String::new(), -1), |c| {
            (c.addr.addr.clone(), c.addr.laddr.clone(), c.addr.fd)
        });
        let seconds = |since: u64| now_ms.saturating_sub(since) / 1000;
        let age = conn.map_or(0, |c| seconds(c.opened_ms));
        let idle = conn.map_or(0, |c| seconds(c.last_ms));
        let multi = session.and_then(|s| s.multi.as_ref());
        let mut flags = String::new();
        // Redis's order: S (replica), P (Pub/Sub), x (MULTI), e (no-evict).
        if self.repl.is_replica(id) {
            flags.push('S');
        }
        let (sub, psub, ssub) = command::subscription_counts(&self.shared, id);
        if sub + psub + ssub > 0 {
            flags.push('P');
        }
        if multi.is_some() {
            flags.push('x');
        }
        if info.no_evict {
            flags.push('e');
        }

        if flags.is_empty() {
            flags.push('N');
        }
        let db = session.map_or(0, |s| s.db);
        let multi = multi.map_or(-1, |m| m.queued.len() as i64);
        let cmd = conn.and_then(|c| c.last_cmd.as_ref());
        let cmd = cmd.map_or_else(|| "NULL".to_string(), full_name);
        format!(
            "id={id} addr={addr} laddr={laddr} fd={fd} name={} age={age} idle={idle} \
             flags={flags} db={db} sub={sub} psub={psub} ssub={ssub} multi={multi} qbuf=0 qbuf-free=0 \
             argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r \
             cmd={cmd} user=default redir=-1 resp={} lib-name={} lib-ver={}",
            text(&info.name),
            info.proto.version(),
            text(&info.lib_name),
            text(&info.lib_ver),
        )
    }
}

/// `name` or `container|subcommand` (lower case), as Redis's `cmd=` field shows it.
fn full_name(last: &LastCommand) -> String {
    let name = command::entry(last.id).name;
    match &last.sub {
        Some(sub) => format!("{name}|{}", String::from_utf8_lossy(sub).to_lowercase()),
        None => name.to_string(),
    }
}
