//! Test-only: argv from words, the one helper the unit tests of the codecs and the command
//! layer share. Owns nothing else; compiled only under `cfg(test)`.

use bytes::Bytes;

/// `["SET", "k", "v"]` as the argv a client would send.
pub(crate) fn argv(words: &[&str]) -> Vec<Bytes> {
    words
        .iter()
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect()
}
