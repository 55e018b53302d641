//! The connection commands of the engine: HELLO, RESET and the CLIENT family (ID, GETNAME,
//! SETNAME, SETINFO, INFO, LIST, KILL, REPLY, NO-EVICT, NO-TOUCH, PAUSE, UNPAUSE), with Redis
//! 7.0's replies and error texts (networking.c `helloCommand`, `clientCommand`,
//! `resetCommand`; SETINFO as Redis 7.2).
//!
//! Owns nothing but these handlers; the state they change is the client table's. Invariants:
//! a reply is built once as a typed frame (HELLO a map, INFO and LIST verbatim text) and the
//! client's protocol is applied when it is encoded; a connection's protocol changes only here
//! (HELLO, RESET), so every reply after the change is encoded in the new protocol.

use bytes::Bytes;

use crate::command::{self, Flags};
use crate::resp::{parse_integer, Frame, Protocol};
use crate::REDIS_VERSION;

use super::clients::{ClientId, ClientInfo, Pause, ReplyMode};
use super::replies::{Need, Reply};
use super::Engine;

fn bulk(s: impl Into<Bytes>) -> Frame {
    Frame::Bulk(s.into())
}

const SYNTAX: &str = "ERR syntax error";

/// Redis's `validateClientAttr`: names and library attributes must be printable and without
/// spaces, so CLIENT LIST stays splittable on spaces.
fn valid_attr(value: &[u8]) -> bool {
    value.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

fn name_error() -> Frame {
    Frame::error("ERR Client names cannot contain spaces, newlines or special characters.")
}

fn unknown_subcommand(sub: &[u8]) -> Frame {
    Frame::error(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
        String::from_utf8_lossy(sub)
    ))
}

impl Engine {
    fn info_mut(&mut self, client: ClientId) -> &mut ClientInfo {
        self.clients.info.entry(client).or_default()
    }

    /// HELLO [protover [AUTH user pass] [SETNAME name]].
    pub(super) fn hello(&mut self, client: ClientId, argv: &[Bytes]) -> Frame {
        let mut proto = None;
        if let Some(version) = argv.get(1) {
            proto = match parse_integer(version) {
                Some(2) => Some(Protocol::Resp2),
                Some(3) => Some(Protocol::Resp3),
                Some(_) => return Frame::error("NOPROTO unsupported protocol version"),
                None => {
                    return Frame::error("ERR Protocol version is not an integer or out of range")
                }
            };
        }
        if let Some(error) = self.hello_options(client, argv.get(2..).unwrap_or_default()) {
            return error;
        }
        if self.config.requirepass.is_some() && !self.info_mut(client).authenticated {
            return Frame::error(
                "NOAUTH HELLO must be called with the client already authenticated, otherwise \
                 the HELLO AUTH <user> <pass> option can be used to authenticate the client and \
                 select the RESP protocol version at the same time",
            );
        }
        if let Some(proto) = proto {
            self.clients.session_or_new(client).resp3 = proto == Protocol::Resp3;
        }
        let info = self.info_mut(client);
        if let Some(proto) = proto {
            info.proto = proto;
        }
        let field = |k: &'static str, v: Frame| (bulk(k), v);
        Frame::Map(vec![
            field("server", bulk("redis")),
            field("version", bulk(REDIS_VERSION)),
            field("proto", Frame::Integer(info.proto.version())),
            field("id", Frame::Integer(client as i64)),
            field("mode", bulk("standalone")),
            field("role", bulk("master")),
            field("modules", Frame::Array(Vec::new())),
        ])
    }

    /// HELLO's AUTH and SETNAME options; the error reply if one fails.
    fn hello_options(&mut self, client: ClientId, options: &[Bytes]) -> Option<Frame> {
        let mut j = 0;
        while let Some(option) = options.get(j) {
            let more = options.len() - j - 1;
            match option.to_ascii_uppercase().as_slice() {
                b"AUTH" if more >= 2 => {
                    let (user, pass) = (&options[j + 1], &options[j + 2]);
                    if !self.hello_auth(client, user, pass) {
                        let text = "WRONGPASS invalid username-password pair or user is disabled.";
                        return Some(Frame::error(text));
                    }
                    j += 3;
                }
                b"SETNAME" if more >= 1 => {
                    let name = &options[j + 1];
                    if !valid_attr(name) {
                        return Some(name_error());
                    }
                    self.info_mut(client).name = (!name.is_empty()).then(|| name.clone());
                    j += 2;
                }
                _ => {
                    let option = String::from_utf8_lossy(option);
                    return Some(Frame::error(format!(
                        "ERR Syntax error in HELLO option '{option}'"
                    )));
                }
            }
        }
        None
    }

    /// ACL's `default` user: without `requirepass` it has `nopass`, so any password works.
    fn hello_auth(&mut self, client: ClientId, user: &[u8], pass: &[u8]) -> bool {
        let ok = user == b"default"
            && self
                .config
                .requirepass
                .as_ref()
                .is_none_or(|p| p.as_bytes() == pass);
        if ok {
            self.info_mut(client).authenticated = true;
        }
        ok
    }

    /// RESET: what `clearClientConnectionState` clears, then `+RESET`.
    pub(super) fn reset(&mut self, client: ClientId) -> Frame {
        let session = self.clients.session_or_new(client);
        command::reset_session(&mut self.shared, session);
        let must_auth = self.config.requirepass.is_some();
        let info = self.info_mut(client);
        info.proto = Protocol::Resp2;
        info.name = None;
        info.reply = ReplyMode::On;
        if must_auth {
            info.authenticated = false;
        }
        Frame::Simple("RESET".to_string())
    }

    /// CLIENT <subcommand> ...
    pub(super) fn client(&mut self, now_ms: u64, client: ClientId, argv: &[Bytes]) -> Frame {
        let sub = argv[1].to_ascii_uppercase();
        match (sub.as_slice(), argv.len()) {
            (b"ID", 2) => Frame::Integer(client as i64),
            (b"GETNAME", 2) => (self.clients.info.get(&client))
                .and_then(|c| c.name.clone())
                .map_or(Frame::Null, Frame::Bulk),
            (b"SETNAME", 3) => {
                if !valid_attr(&argv[2]) {
                    return name_error();
                }
                let name = (!argv[2].is_empty()).then(|| argv[2].clone());
                self.info_mut(client).name = name;
                Frame::ok()
            }
            (b"SETINFO", 4) => self.client_setinfo(client, &argv[2], &argv[3]),
            (b"INFO", 2) => {
                let line = self.client_line(now_ms, client) + "\n";
                Frame::text(line)
            }
            (b"LIST", _) => self.client_list(now_ms, &argv[2..]),
            (b"KILL", 3..) => self.client_kill(client, &argv[2..]),
            (b"REPLY", 3) => self.client_reply(client, &argv[2]),
            (b"NO-EVICT", 3) | (b"NO-TOUCH", 3) => {
                let on = match argv[2].to_ascii_lowercase().as_slice() {
                    b"on" => true,
                    b"off" => false,
                    _ => return Frame::error(SYNTAX),
                };
                if sub == b"NO-EVICT" {
                    self.info_mut(client).no_evict = on;
                }
                Frame::ok()
            }
            (b"PAUSE", 3 | 4) => self.client_pause(now_ms, argv),
            (b"UNBLOCK", 3 | 4) => self.client_unblock(now_ms, &argv[2..]),
            (b"UNPAUSE", 2) => {
                // The held requests run after this reply (`requests.rs`), as Redis answers
                // UNPAUSE before it serves the clients it unblocks.
                self.clients.pause = None;
                Frame::ok()
            }
            _ => unknown_subcommand(&argv[1]),
        }
    }

    /// CLIENT SETINFO LIB-NAME|LIB-VER value, as Redis 7.2.
    fn client_setinfo(&mut self, client: ClientId, attr: &Bytes, value: &Bytes) -> Frame {
        let attr_text = String::from_utf8_lossy(attr);
        let lib_name = match attr.to_ascii_lowercase().as_slice() {
            b"lib-name" => true,
            b"lib-ver" => false,
            _ => return Frame::error(format!("ERR Unrecognized option '{attr_text}'")),
        };
        if !valid_attr(value) {
            return Frame::error(format!(
                "ERR {attr_text} cannot contain spaces, newlines or special characters."
            ));
        }
        let value = (!value.is_empty()).then(|| value.clone());
        let info = self.info_mut(client);
        if lib_name {
            info.lib_name = value;
        } else {
            info.lib_ver = value;
        }
        Frame::ok()
    }

    /// CLIENT REPLY ON|OFF|SKIP: the mode applies from this command's own reply on (OFF and
    /// SKIP send none; SKIP while OFF changes nothing), see `Clients::reply_for`.
    fn client_reply(&mut self, client: ClientId, mode: &[u8]) -> Frame {
        let info = self.info_mut(client);
        match mode.to_ascii_lowercase().as_slice() {
            b"on" => info.reply = ReplyMode::On,
            b"off" => info.reply = ReplyMode::Off,
            b"skip" if info.reply != ReplyMode::Off => info.reply = ReplyMode::SkipNext,
            b"skip" => {}
            _ => return Frame::error(SYNTAX),
        }
        Frame::ok()
    }

    /// CLIENT PAUSE timeout [WRITE|ALL].
    fn client_pause(&mut self, now_ms: u64, argv: &[Bytes]) -> Frame {
        let all = match argv.get(3).map(|m| m.to_ascii_lowercase()) {
            None => true,
            Some(m) if m == b"all" => true,
            Some(m) if m == b"write" => false,
            Some(_) => return Frame::error("ERR CLIENT PAUSE mode must be WRITE or ALL"),
        };
        let timeout_ms = match parse_integer(&argv[2]) {
            Some(ms) if ms >= 0 => ms as u64,
            Some(_) => return Frame::error("ERR timeout is negative"),
            None => return Frame::error("ERR timeout is not an integer or out of range"),
        };
        let until_ms = now_ms.saturating_add(timeout_ms);
        // As Redis's `pauseClients`: a longer or stricter pause already in force is kept.
        let pause = match self.clients.pause {
            Some(p) => Pause {
                until_ms: p.until_ms.max(until_ms),
                all: p.all || all,
            },
            None => Pause { until_ms, all },
        };
        self.clients.pause = Some(pause);
        Frame::ok()
    }

    /// Whether `client`'s request must wait for the pause to end: every request under ALL,
    /// under WRITE those that may write or propagate (with EXEC judged by what it queued, as
    /// Redis's `is_may_replicate_command`), and any request behind one already held.
    pub(super) fn must_hold(&self, client: ClientId, id: Option<command::CommandId>) -> bool {
        if self.clients.is_blocked(client)
            || self.repl.is_waiting(client)
            || self.is_rewriting_config(client)
        {
            // A blocked client's later requests wait for its reply (`blocking.rs`).
            return true;
        }
        let Some(pause) = self.clients.pause else {
            return false;
        };
        if pause.all || self.clients.held.iter().any(|h| h.client == client) {
            return true;
        }
        let may_write = |id| {
            let flags = command::entry(id).flags;
            flags.contains(Flags::WRITE) || flags.contains(Flags::MAY_REPLICATE)
        };
        let Some(id) = id else { return false };
        if command::entry(id).name == "exec" {
            let queued = self.clients.session(client).and_then(|s| s.multi.as_ref());
            return queued.is_some_and(|m| m.queued.iter().any(|q| may_write(q.command)));
        }
        may_write(id)
    }

    /// CLIENT UNPAUSE or the pause deadline: run what was held, in arrival order (a held
    /// CLIENT PAUSE may pause again; what follows it is then held again).
    pub(super) fn end_pause(&mut self, now_ms: u64) {
        self.clients.pause = None;
        let held = std::mem::take(&mut self.clients.held);
        for h in held {
            self.handle_request(now_ms, h.client, h.id, &h.argv, None);
        }
    }

    /// CLIENT KILL addr | CLIENT KILL [ID id] [ADDR a] [LADDR a] [TYPE t] [USER u] [SKIPME y/n].
    fn client_kill(&mut self, me: ClientId, args: &[Bytes]) -> Frame {
        let old_form = args.len() == 1;
        let filter = if old_form {
            KillFilter {
                addr: Some(args[0].clone()),
                skipme: false,
                ..KillFilter::default()
            }
        } else {
            match KillFilter::parse(args) {
                Ok(filter) => filter,
                Err(frame) => return frame,
            }
        };
        let victims: Vec<ClientId> = (self.clients.info.iter())
            .filter(|(&id, _)| filter.replica.is_none_or(|r| r == self.repl.is_replica(id)))
            .filter(|(&id, info)| filter.matches(id, info) && !(filter.skipme && id == me))
            .map(|(&id, _)| id)
            .collect();
        let need = self.need_now();
        for &victim in &victims {
            if victim != me {
                self.kill(victim, need);
            }
        }
        let reply = match (old_form, victims.len()) {
            (true, 0) => Frame::error("ERR No such client"),
            (true, _) => Frame::ok(),
            (false, n) => Frame::Integer(n as i64),
        };
        if victims.contains(&me) {
            // Redis's CLIENT_CLOSE_AFTER_REPLY: this reply is queued first, then the close.
            self.clients.pending_self_kill = true;
        }
        reply
    }

    /// Closes `victim` after the replies it already has queued.
    pub(super) fn kill(&mut self, victim: ClientId, need: Need) {
        self.clients.forget(victim, &mut self.shared);
        self.repl.forget(victim);
        self.clients.killed.insert(victim);
        self.replies.push(victim, Reply::Close, need);
    }
}

/// CLIENT KILL's filters (new form).
#[derive(Default)]
struct KillFilter {
    id: Option<ClientId>,
    addr: Option<Bytes>,
    laddr: Option<Bytes>,
    skipme: bool,
    /// TYPE master or pubsub: durakv has no such clients.
    nobody: bool,
    /// TYPE normal (`Some(false)`) or replica/slave (`Some(true)`).
    replica: Option<bool>,
}

impl KillFilter {
    fn parse(args: &[Bytes]) -> Result<KillFilter, Frame> {
        let mut f = KillFilter {
            skipme: true,
            ..KillFilter::default()
        };
        for pair in args.chunks(2) {
            let [option, value] = pair else {
                return Err(Frame::error(SYNTAX));
            };
            let text = String::from_utf8_lossy(value);
            match option.to_ascii_lowercase().as_slice() {
                b"id" => match parse_integer(value) {
                    Some(id) if id >= 1 => f.id = Some(id as ClientId),
                    _ => return Err(Frame::error("ERR client-id should be greater than 0")),
                },
                b"type" => match value.to_ascii_lowercase().as_slice() {
                    b"normal" => f.replica = Some(false),
                    b"replica" | b"slave" => f.replica = Some(true),
                    b"master" | b"pubsub" => f.nobody = true,
                    _ => return Err(Frame::error(format!("ERR Unknown client type '{text}'"))),
                },
                b"addr" => f.addr = Some(value.clone()),
                b"laddr" => f.laddr = Some(value.clone()),
                b"user" if value.as_ref() == b"default" => {}
                b"user" => return Err(Frame::error(format!("ERR No such user '{text}'"))),
                b"skipme" => match value.to_ascii_lowercase().as_slice() {
                    b"yes" => f.skipme = true,
                    b"no" => f.skipme = false,
                    _ => return Err(Frame::error(SYNTAX)),
                },
                _ => return Err(Frame::error(SYNTAX)),
            }
        }
        Ok(f)
    }

    fn matches(&self, id: ClientId, info: &ClientInfo) -> bool {
        let addr = info.conn.as_ref().map(|c| &c.addr);
        let same = |want: &Option<Bytes>, have: Option<&String>| {
            want.as_ref()
                .is_none_or(|w| have.is_some_and(|h| h.as_bytes() == w.as_ref()))
        };
        !self.nobody
            && self.id.is_none_or(|want| want == id)
            && same(&self.addr, addr.map(|a| &a.addr))
            && same(&self.laddr, addr.map(|a| &a.laddr))
    }
}
