//! Redis's `scriptCall`: the checks on a command a script runs through `redis.call` /
//! `redis.pcall`, then the command layer's own `call()`.
//!
//! Owns the refusals and their texts (unknown command, arity, `noscript`, writes from a
//! read-only script, writes while persistence fails). Invariant: a command reaches `call()`
//! only if its entry allows it here, so its effects propagate exactly as the same command sent
//! by a client would (`call()` appends them to the unit's propagation; EVAL itself never).

use bytes::Bytes;

use super::super::exec::{self, Exec};
use super::super::index::{Flags, Run};
use crate::resp::Frame;

/// What one script run decided so far.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ScriptFlags {
    /// `EVAL_RO`/`EVALSHA_RO`: writes are refused.
    pub(crate) read_only: bool,
    /// A write already ran: later writes are not refused for the server state (Redis's
    /// `SCRIPT_WRITE_DIRTY`: a half-done script must not fail on an unpredictable state).
    pub(crate) wrote: bool,
}

/// Runs `argv` for a script: `Err` is a refusal (the command never ran; counted as a rejected
/// call and an error reply, as Redis's `scriptCall` does), `Ok` the command's reply, which may
/// itself be an error.
pub(crate) fn script_call(
    x: &mut Exec<'_>,
    flags: &mut ScriptFlags,
    argv: &[Bytes],
) -> Result<Frame, String> {
    let result = checked_call(x, flags, argv);
    if let Err(text) = &result {
        let refused = Frame::Error(text.clone());
        match x.resolve(&argv[0]).map(|id| x.command(id)) {
            Some(command) => x.count_rejected(command, argv, &refused),
            None => {
                x.shared.stats.count_reply(&refused);
            }
        }
    }
    result
}

fn checked_call(
    x: &mut Exec<'_>,
    flags: &mut ScriptFlags,
    argv: &[Bytes],
) -> Result<Frame, String> {
    let command = x.resolve(&argv[0]).map(|id| x.command(id));
    let Some(command) = command else {
        return Err("ERR Unknown Redis command called from script".into());
    };
    if !command.arity_ok(argv.len()) {
        return Err("ERR Wrong number of args calling Redis command from script".into());
    }
    let runs_here = matches!(command.run, Run::Data(_) | Run::Control(_));
    // Every SCRIPT and FUNCTION subcommand is `noscript` in Redis (the containers are not).
    let container = matches!(command.name, "script" | "function");
    let denied = command.flags.contains(Flags::NOSCRIPT) && !x.shared.deny_scripts_disabled;
    if command.name == "debug" && !denied {
        return script_debug(argv);
    }
    if denied || !runs_here || container {
        return Err("ERR This Redis command is not allowed from script".into());
    }
    let writes = command.is_write();
    if flags.read_only && (writes || command.flags.contains(Flags::MAY_REPLICATE)) {
        return Err("ERR Write commands are not allowed from read-only scripts.".into());
    }
    if writes && !flags.wrote {
        if let Some(denial) = &x.ctx.write_denial {
            return Err(denial.clone());
        }
        // Redis's `scriptVerifyOOM`: only before the script's first write.
        if x.shared.pre_command_oom && command.flags.contains(Flags::DENYOOM) {
            return Err("OOM command not allowed when used memory > 'maxmemory'.".into());
        }
    }
    flags.wrote |= writes;
    let outer = std::mem::replace(&mut x.from_script, true);
    let reply = exec::call(x, command, argv);
    x.from_script = outer;
    Ok(reply)
}

/// DEBUG from a script (allowed by DEBUG SET-DISABLE-DENY-SCRIPTS 1): the subcommands that do
/// not need the engine. SLEEP answers at once: a script runs in one step, its clock stopped,
/// which is what Redis's tests of it check.
fn script_debug(argv: &[Bytes]) -> Result<Frame, String> {
    let sub = argv.get(1).map(|a| a.to_ascii_uppercase());
    match (sub.as_deref(), argv.len()) {
        (Some(b"PROTOCOL"), 3) => Ok(super::super::debug_protocol::debug_protocol(&argv[2])),
        (Some(b"SLEEP"), 3) => Ok(Frame::ok()),
        _ => Err("ERR This DEBUG subcommand is not served from scripts by durakv".into()),
    }
}
