//! Building libraries from their code: FUNCTION LOAD's checks (`functionsCreateWithLibraryCtx`),
//! the libraries an RDB file holds (`rdbFunctionLoad`), FUNCTION DUMP and FUNCTION RESTORE
//! (`functionRestoreCommand`, `libraryJoin`).
//!
//! Owns the rule that keeps [`Libraries`] consistent: a library is linked only once its code
//! ran and registered at least one function, and only if none of its functions belongs to
//! another library; a failed LOAD or RESTORE leaves the libraries as they were.

use bytes::Bytes;

use super::super::exec::Exec;
use super::super::reply;
use super::load;
use super::vm::with_vm;
use crate::functions::{metadata, valid_name, Libraries, Library, BAD_NAME};
use crate::rdb::payload;
use crate::resp::Frame;

/// Adds the libraries an RDB file held (Redis's `rdbFunctionLoad`): `Err` names the failure.
pub(crate) fn load_libraries(libraries: &mut Libraries, codes: &[Bytes]) -> Result<(), String> {
    for code in codes {
        create(libraries, code.clone(), false)?;
    }
    Ok(())
}

/// Compiles and links the library `code`; `Ok` is its name.
pub(crate) fn create(libs: &mut Libraries, code: Bytes, replace: bool) -> Result<Bytes, String> {
    let md = metadata(&code).map_err(|e| format!("ERR {e}"))?;
    if !valid_name(&md.name) {
        return Err(format!("ERR {BAD_NAME}"));
    }
    if !md.engine.eq_ignore_ascii_case(b"lua") {
        let engine = String::from_utf8_lossy(&md.engine);
        return Err(format!("ERR Engine '{engine}' not found"));
    }
    let name = Bytes::from(md.name);
    if !replace && libs.libraries.contains_key(&name) {
        let name = String::from_utf8_lossy(&name);
        return Err(format!("ERR Library '{name}' already exists"));
    }
    let registered = with_vm(|vm| load::load(vm, &code, md.body_at))?;
    if registered.is_empty() {
        return Err("ERR No functions registered".into());
    }
    let functions = registered.into_iter().map(|r| (r.name, r.info));
    let library = Library {
        code,
        functions: functions.collect(),
    };
    libs.link(name.clone(), library)?;
    Ok(name)
}

/// FUNCTION DUMP's payload.
pub(crate) fn dump(libraries: &Libraries) -> Bytes {
    Bytes::from(payload::dump_functions(libraries.codes()))
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE].
pub(crate) fn restore(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    if argv.len() > 4 {
        // Redis's `addReplySubcommandSyntaxError` (argv[1] is `restore` in some letter case).
        let sub = String::from_utf8_lossy(&argv[1]);
        return reply::err(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try FUNCTION HELP."
        ));
    }
    let policy = argv.get(3).map(|p| p.to_ascii_lowercase());
    let (flush, replace) = match policy.as_deref() {
        None | Some(b"append") => (false, false),
        Some(b"replace") => (false, true),
        Some(b"flush") => (true, false),
        Some(_) => {
            let text =
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.";
            return reply::err(text);
        }
    };
    let restored = payload::restore_functions(&argv[2]).and_then(|codes| {
        let mut fresh = Libraries::default();
        load_libraries(&mut fresh, &codes)?;
        if flush {
            return Ok(fresh);
        }
        join(&x.ks.functions, fresh, replace)
    });
    match restored {
        Ok(libraries) => {
            x.ks.functions = libraries;
            x.add_dirty(1);
            reply::ok()
        }
        Err(text) => Frame::Error(text),
    }
}

/// Redis's `libraryJoin`: `src`'s libraries added to a copy of `dst`.
fn join(dst: &Libraries, src: Libraries, replace: bool) -> Result<Libraries, String> {
    let mut out = dst.clone();
    for name in src.libraries.keys() {
        if out.libraries.remove(name).is_some() && !replace {
            let name = String::from_utf8_lossy(name);
            return Err(format!("ERR Library {name} already exists"));
        }
    }
    for (name, library) in src.libraries {
        out.link(name, library)?;
    }
    Ok(out)
}
