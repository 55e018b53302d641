//! Engine-level commands: persistence, connection and server administration that the command
//! layer does not own (SAVE, BGSAVE, LASTSAVE, BGREWRITEAOF, AUTH, CONFIG, INFO, SHUTDOWN,
//! DEBUG; HELLO, RESET and CLIENT are `client_cmd.rs`'s). Which commands these are, their
//! arity and flags, is the command index's (`command/table.rs`): each arm here is the handler
//! of one [`EngineCommand`].
//!
//! These are `impl Engine` blocks because each command reads or changes several sub-machines;
//! they reach them only through the router's methods in `mod.rs`.
//!
//! Invariant: with `requirepass` set, a connection that has not authenticated can run nothing
//! but AUTH, HELLO and QUIT; immutable settings (paths) cannot change at run time.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::command::{self, Command, EngineCommand, Flags};
use crate::config::IMMUTABLE;
use crate::resp::Frame;

use super::aof_log::AofLog;
use super::clients::ClientId;
use super::replies::Need;
use super::Engine;

fn bulk(s: impl Into<Bytes>) -> Frame {
    Frame::Bulk(s.into())
}

fn arity_error(name: &str) -> Frame {
    Frame::error(command::wrong_arity_text(name))
}

impl Engine {
    /// Refuses anything but `no_auth` commands (AUTH, HELLO, QUIT) from a connection that
    /// must authenticate first; `None` for the command stands for "not exempt".
    pub(super) fn auth_gate(&mut self, client: ClientId, entry: Option<&Command>) -> Option<Frame> {
        self.config.requirepass.as_ref()?;
        let info = self.clients.info.entry(client).or_default();
        let exempt = entry.is_some_and(|e| e.flags.contains(Flags::NO_AUTH));
        if info.authenticated || exempt {
            return None;
        }
        Some(Frame::error("NOAUTH Authentication required."))
    }

    /// Runs an engine-level command whose arity the index checked (snapshot commands are
    /// `snapshot_command`'s).
    pub(super) fn engine_command(
        &mut self,
        now_ms: u64,
        client: ClientId,
        which: EngineCommand,
        argv: &[Bytes],
    ) -> Frame {
        match which {
            EngineCommand::Auth => self.auth(client, argv),
            EngineCommand::Hello => self.hello(client, argv),
            EngineCommand::Client => self.client(now_ms, client, argv),
            EngineCommand::Reset => self.reset(client),
            EngineCommand::Config => self.config_command(now_ms, argv),
            EngineCommand::Info => Frame::text(self.info(now_ms, argv)),
            EngineCommand::Shutdown => self.shutdown(now_ms, argv),
            EngineCommand::Debug => self.debug(client, argv),
            EngineCommand::Save
            | EngineCommand::Bgsave
            | EngineCommand::Lastsave
            | EngineCommand::Bgrewriteaof => unreachable!("snapshot commands run first"),
            EngineCommand::Replconf
            | EngineCommand::Sync
            | EngineCommand::Wait
            | EngineCommand::Waitaof
            | EngineCommand::Role
            | EngineCommand::Replicaof => unreachable!("replication commands run first"),
        }
    }

    fn shutdown(&mut self, now_ms: u64, argv: &[Bytes]) -> Frame {
        let save = match argv.get(1).map(|a| a.to_ascii_uppercase()) {
            None => None,
            Some(flag) if flag == b"NOSAVE" => Some(false),
            Some(flag) if flag == b"SAVE" => Some(true),
            Some(_) => return Frame::error("ERR syntax error"),
        };
        self.handle_shutdown_with(now_ms, save);
        Frame::ok()
    }

    fn check_password(&mut self, client: ClientId, password: &[u8]) -> Frame {
        match &self.config.requirepass {
            None => Frame::error(
                "ERR AUTH <password> called without any password configured for the default user. \
                 Are you sure your configuration is correct?",
            ),
            Some(p) if p.as_bytes() == password => {
                self.clients.info.entry(client).or_default().authenticated = true;
                Frame::ok()
            }
            Some(_) => {
                Frame::error("WRONGPASS invalid username-password pair or user is disabled.")
            }
        }
    }

    fn auth(&mut self, client: ClientId, argv: &[Bytes]) -> Frame {
        match argv {
            [_, password] => self.check_password(client, password),
            [_, user, password] if user.as_ref() == b"default" => {
                self.check_password(client, password)
            }
            [_, _, _] => {
                Frame::error("WRONGPASS invalid username-password pair or user is disabled.")
            }
            _ => arity_error("auth"),
        }
    }

    fn config_command(&mut self, now_ms: u64, argv: &[Bytes]) -> Frame {
        let sub = &argv[1];
        match sub.to_ascii_uppercase().as_slice() {
            b"GET" if argv.len() >= 3 => self.config_get(&argv[2..]),
            b"SET" if argv.len() >= 4 && argv.len().is_multiple_of(2) => {
                self.config_set(now_ms, &argv[2..])
            }
            b"RESETSTAT" if argv.len() == 2 => {
                self.shared.stats.reset();
                Frame::ok()
            }
            _ => Frame::error(format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try CONFIG HELP.",
                String::from_utf8_lossy(sub)
            )),
        }
    }

    fn config_get(&self, patterns: &[Bytes]) -> Frame {
        let mut found = BTreeMap::new();
        for (name, value) in self.config.settings() {
            if patterns
                .iter()
                .any(|p| command::string_match(&p.to_ascii_lowercase(), name.as_bytes()))
            {
                found.insert(name, value);
            }
        }
        Frame::Map(found.into_iter().map(|(k, v)| (bulk(k), bulk(v))).collect())
    }

    fn config_set(&mut self, now_ms: u64, pairs: &[Bytes]) -> Frame {
        let mut next = self.config.clone();
        for pair in pairs.chunks(2) {
            let name = String::from_utf8_lossy(&pair[0]).to_lowercase();
            let value = String::from_utf8_lossy(&pair[1]).into_owned();
            let refused = if IMMUTABLE.contains(&name.as_str())
                || self.config.runtime_settings.iter().any(|(k, _)| *k == name)
            {
                Some("can't set immutable config".to_string())
            } else {
                next.set(&name, &value).err()
            };
            if let Some(reason) = refused {
                return Frame::error(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}"
                ));
            }
        }
        if let Some(log) = &mut self.aof.log {
            log.policy = next.appendfsync;
        }
        let (was, wants) = (self.config.appendonly, next.appendonly);
        next.appendonly = was;
        self.config = next;
        // DEBUG QUICKLIST-PACKED-THRESHOLD is not a config: CONFIG SET keeps it.
        let threshold = self.keyspace.limits.list_packed_threshold_bytes;
        self.keyspace.limits = self.config.encodings;
        self.keyspace.limits.list_packed_threshold_bytes = threshold;
        command::set_notify_flags(&mut self.shared, self.config.notify_keyspace_events);
        if self.config.memory.maxmemory_bytes > 0 {
            self.evict_to(self.config.memory.maxmemory_bytes);
        }
        match (was, wants) {
            (false, true) => {
                if let Err(reason) = self.enable_aof(now_ms) {
                    return Frame::error(format!("ERR CONFIG SET failed (possibly related to argument 'appendonly') - {reason}"));
                }
            }
            (true, false) => {
                let logged = self.aof.log.as_ref().map_or(0, |l| l.offset_logged);
                self.toggle.pending_need = Some(Need::Durable(logged));
                self.disable_aof();
            }
            _ => {}
        }
        Frame::ok()
    }
}

impl Engine {
    /// DEBUG POPULATE count [prefix] [size], as Redis but always into db 0: fills it with `prefix:N` = `value:N` padded to `size`, skipping keys that exist; not propagated,
    /// so it reaches disk only through a snapshot or rewrite (benchmarks use it to fill).
    fn debug(&mut self, client: ClientId, argv: &[Bytes]) -> Frame {
        if let Some(refused) = self.debug_refusal(client) {
            return refused;
        }
        let sub = argv.get(1).map(|a| a.to_ascii_uppercase());
        match sub.as_deref() {
            Some(b"POPULATE") if (3..=5).contains(&argv.len()) => self.populate(argv),
            Some(b"OBJECT") if argv.len() == 3 => self.debug_object(client, &argv[2]),
            Some(b"RELOAD") if argv.len() == 2 => self.debug_reload(),
            Some(b"QUICKLIST-PACKED-THRESHOLD") if argv.len() == 3 => {
                self.debug_packed_threshold(&argv[2])
            }
            // A positive SLEEP was held by `debug_sleep`; this is its end (or a zero sleep).
            Some(b"SLEEP") if argv.len() == 3 => Frame::ok(),
            Some(b"PROTOCOL") if argv.len() == 3 => command::debug_protocol(&argv[2]),
            _ => self.debug_server(client, argv).unwrap_or_else(|| {
                Frame::error(format!(
                    "ERR unknown subcommand or wrong number of arguments for '{}'. durakv serves \
                     POPULATE, SLEEP, PROTOCOL, OBJECT, RELOAD, QUICKLIST-PACKED-THRESHOLD, \
                     SET-ACTIVE-EXPIRE, DIGEST, DIGEST-VALUE, LOADAOF, CHANGE-REPL-ID, \
                     STRINGMATCH-LEN",
                    String::from_utf8_lossy(&argv[1])
                ))
            }),
        }
    }

    fn populate(&mut self, argv: &[Bytes]) -> Frame {
        let parse = |i: usize| {
            std::str::from_utf8(&argv[i])
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
        };
        let Some(count) = parse(2) else {
            return Frame::error("ERR value is out of range, must be positive");
        };
        let prefix = argv.get(3).map_or(&b"key"[..], |p| &p[..]).to_vec();
        let size = if argv.len() == 5 { parse(4) } else { Some(0) };
        let Some(size) = size else {
            return Frame::error("ERR value is out of range, must be positive");
        };
        let db = &mut self.keyspace.dbs[0];
        for n in 0..count {
            let mut key = prefix.clone();
            key.extend_from_slice(format!(":{n}").as_bytes());
            let key = Bytes::from(key);
            if db.contains(&key) {
                continue;
            }
            let mut value = format!("value:{n}").into_bytes();
            if (value.len() as u64) < size {
                value.resize(size as usize, 0);
            }
            let entry = crate::keyspace::Entry {
                value: crate::keyspace::Value::Str(Bytes::from(value)),
                expire_at_ms: None,
            };
            db.insert(key, entry);
        }
        self.stats.dirty += count;
        Frame::ok()
    }
}

impl Engine {
    /// SAVE, BGSAVE [SCHEDULE], LASTSAVE, BGREWRITEAOF (arity checked by the index): pushes
    /// the reply and returns `true`, or `false` if `which` is none of them.
    pub(super) fn snapshot_command(
        &mut self,
        now_ms: u64,
        client: ClientId,
        which: EngineCommand,
        argv: &[Bytes],
    ) -> bool {
        let log = self.aof.log.as_ref();
        let need = log.map_or(Need::Nothing, AofLog::need_now);
        let frame = match which {
            EngineCommand::Save => match self.start_snapshot(now_ms, false) {
                Ok(generation) => {
                    self.answer_after_snapshot(client, Frame::ok(), need, generation);
                    return true;
                }
                Err(frame) => frame,
            },
            EngineCommand::Bgsave => self.bgsave(now_ms, argv),
            EngineCommand::Bgrewriteaof => match self.start_rewrite(now_ms) {
                Ok(()) => {
                    Frame::Simple("Background append only file rewriting started".to_string())
                }
                Err(frame) => frame,
            },
            EngineCommand::Lastsave => Frame::Integer((self.snapshots.lastsave_ms / 1000) as i64),
            _ => return false,
        };
        self.answer(client, frame, need);
        true
    }

    pub(super) fn bgsave(&mut self, now_ms: u64, argv: &[Bytes]) -> Frame {
        match argv {
            [_] => match self.start_snapshot(now_ms, true) {
                Ok(_) => Frame::Simple("Background saving started".to_string()),
                Err(frame) => frame,
            },
            [_, flag] if flag.eq_ignore_ascii_case(b"SCHEDULE") => {
                match self.start_snapshot(now_ms, true) {
                    Ok(_) => Frame::Simple("Background saving started".to_string()),
                    Err(_) => {
                        self.snapshots.again = true;
                        Frame::Simple("Background saving scheduled".to_string())
                    }
                }
            }
            _ => Frame::error(command::wrong_arity_text("bgsave")),
        }
    }
}
