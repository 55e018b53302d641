//! The error the libraries raise, told apart from other Lua errors so that the error handler
//! can prefix it with the calling script line, as Lua's `luaL_error` does.
//!
//! Invariant: only library functions construct it.

/// An error a library function raises: Lua's `luaL_error`, which the error handler prefixes
/// with the script line that called the function.
#[derive(Debug)]
pub(crate) struct LibError(pub(crate) String);

impl std::fmt::Display for LibError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LibError {}

pub(crate) fn error(text: String) -> mlua::Error {
    mlua::Error::external(LibError(text))
}
