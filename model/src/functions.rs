//! Function libraries as Redis 7.0 keeps them (`functions.c`): each library's name, code and
//! registered functions (name, description, flags), and the shebang metadata parser.
//!
//! Owns the libraries as data-set state: they are part of the [`Keyspace`](crate::keyspace)
//! (as in Redis, where RDB files carry them), so every point-in-time view a snapshot or rewrite
//! writes holds the libraries of that moment. Hashing skips an empty set, so states that never
//! ran FUNCTION LOAD hash as before. The compiled callbacks are not state (they live beside the
//! VM, rebuilt from the code on demand).
//! Invariants: a function name belongs to at most one library; every library has at least one
//! function; a library's code is exactly what FUNCTION LOAD was sent, so replaying the code
//! rebuilds the library.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use bytes::Bytes;

/// Redis's `scripts_flags_def`, in its order (FUNCTION LIST prints them in this order).
pub(crate) const FLAG_NAMES: [&str; 5] = [
    "no-writes",
    "allow-oom",
    "allow-stale",
    "no-cluster",
    "allow-cross-slot-keys",
];
pub(crate) const NO_WRITES: u8 = 1;

pub(crate) const BAD_NAME: &str = "Library names can only contain letters, numbers, or \
     underscores(_) and must be at least one character long";

/// One registered function.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FunctionInfo {
    pub(crate) description: Option<Bytes>,
    /// Bit `i` is `FLAG_NAMES[i]`.
    pub(crate) flags: u8,
}

/// One library.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Library {
    /// The whole code as loaded, shebang included.
    pub(crate) code: Bytes,
    pub(crate) functions: BTreeMap<Bytes, FunctionInfo>,
}

/// Every library by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Libraries {
    pub(crate) libraries: BTreeMap<Bytes, Library>,
}

impl Hash for Libraries {
    /// Nothing when empty: a data set without libraries hashes as it did before they existed.
    fn hash<H: Hasher>(&self, state: &mut H) {
        if !self.libraries.is_empty() {
            self.libraries.hash(state);
        }
    }
}

impl Libraries {
    /// The library holding function `name`, with the function.
    pub(crate) fn function(&self, name: &[u8]) -> Option<(&Bytes, &Library, &FunctionInfo)> {
        self.libraries
            .iter()
            .find_map(|(lib, l)| l.functions.get(name).map(|f| (lib, l, f)))
    }

    /// Adds `library` as `name` (replacing one of that name): `Err` names a function that
    /// another library already has.
    pub(crate) fn link(&mut self, name: Bytes, library: Library) -> Result<(), String> {
        for function in library.functions.keys() {
            let owner = self.function(function).map(|(lib, _, _)| lib.clone());
            if owner.is_some_and(|owner| owner != name) {
                let function = String::from_utf8_lossy(function);
                return Err(format!("ERR Function {function} already exists"));
            }
        }
        self.libraries.insert(name, library);
        Ok(())
    }

    /// Every library's code, in name order (what RDB files and AOF bases write).
    pub fn codes(&self) -> impl Iterator<Item = &Bytes> {
        self.libraries.values().map(|l| &l.code)
    }

    pub fn is_empty(&self) -> bool {
        self.libraries.is_empty()
    }

    pub(crate) fn functions_count(&self) -> usize {
        self.libraries.values().map(|l| l.functions.len()).sum()
    }
}

/// Redis's `functionsVerifyName`: letters, digits and `_`, at least one.
pub(crate) fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// The parsed shebang: engine and library name; the code after it starts at its newline.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Metadata {
    pub(crate) engine: Vec<u8>,
    pub(crate) name: Vec<u8>,
    /// Offset of the newline that ends the shebang.
    pub(crate) body_at: usize,
}

/// Redis's `functionExtractLibMetaData`; `Err` is the error text without `ERR `.
pub(crate) fn metadata(code: &[u8]) -> Result<Metadata, String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&c| c == b'\n') else {
        return Err("Invalid library metadata".into());
    };
    let parts: Vec<&[u8]> = code[..end]
        .split(|c| c.is_ascii_whitespace())
        .filter(|p| !p.is_empty())
        .collect();
    let Some(first) = parts.first() else {
        return Err("Invalid library metadata".into());
    };
    let mut name = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(part[5..].to_vec());
            continue;
        }
        let part = String::from_utf8_lossy(part);
        return Err(format!("Invalid metadata value given: {part}"));
    }
    let Some(name) = name else {
        return Err("Library name was not given".into());
    };
    Ok(Metadata {
        engine: first[2..].to_vec(),
        name,
        body_at: end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_parsing_follows_redis() {
        let md = metadata(b"#!lua name=lib\nreturn 1").unwrap();
        assert_eq!(
            (md.engine.as_slice(), md.name.as_slice()),
            (&b"lua"[..], &b"lib"[..])
        );
        assert_eq!(md.body_at, 14);
        assert_eq!(
            metadata(b"return 1").unwrap_err(),
            "Missing library metadata"
        );
        assert_eq!(
            metadata(b"#!lua name=a").unwrap_err(),
            "Invalid library metadata"
        );
        assert_eq!(
            metadata(b"#!lua\n").unwrap_err(),
            "Library name was not given"
        );
        let twice = metadata(b"#!lua name=a name=b\n").unwrap_err();
        assert!(twice.contains("multiple times"));
        let other = metadata(b"#!lua foo=bar\n").unwrap_err();
        assert_eq!(other, "Invalid metadata value given: foo=bar");
        assert!(valid_name(b"a_1") && !valid_name(b"") && !valid_name(b"a-b"));
    }
}
