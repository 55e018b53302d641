//! Tests across both RESP parsers.

use super::{parse_command, parse_frame, Limits};

#[test]
fn arbitrary_bytes_never_panic() {
    // A deterministic byte soup, fed at every length: the parsers must only ever answer.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let alphabet = b"*$+-:\r\n0123456789-\"' \\xab";
    let soup: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            alphabet[(state % alphabet.len() as u64) as usize]
        })
        .collect();
    for start in 0..256 {
        for end in (start..soup.len()).step_by(61) {
            let _ = parse_command(&soup[start..end], &Limits::default());
            let _ = parse_frame(&soup[start..end]);
        }
    }
}
