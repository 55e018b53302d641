//! The C libraries Redis 7.0 loads into its Lua VM, written here in Rust: `cjson`,
//! `cmsgpack` and `bit` (`struct` is not provided yet).
//!
//! Invariant: each library is a table of pure functions of their arguments (cjson's settings
//! are reset before every script), so a script run depends only on its input.

mod bit;
mod cjson;
mod cmsgpack;
mod error;
mod json_parse;
#[cfg(test)]
mod tests;

use mlua::{Lua, Table};

pub(crate) use error::LibError;

/// The libraries as (global name, table).
pub(crate) fn tables(lua: &Lua) -> mlua::Result<[(&'static str, Table); 3]> {
    Ok([
        ("cjson", cjson::table(lua)?),
        ("cmsgpack", cmsgpack::table(lua)?),
        ("bit", bit::table(lua)?),
    ])
}

/// Settings back to their defaults before a script runs.
pub(crate) fn reset() {
    cjson::reset();
}
