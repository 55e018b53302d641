//! SSCAN and ZSCAN's shared part: the cursor, MATCH and COUNT, and the reply page.
//!
//! Invariants (Redis 7.0 `scanGenericCommand`): a compact value is returned whole with cursor
//! 0, as Redis does for an intset or listpack; a large one pages in member order, resuming
//! after the last member of the previous page through the shared SCAN cursors, so every member
//! present for the whole walk is returned at least once. MATCH filters after the page is taken.

use bytes::Bytes;

use super::exec::Exec;
use super::glob::string_match;
use super::num::integer_arg;
use super::reply;
use crate::resp::Frame;

/// A parsed `<key> <cursor> [MATCH p] [COUNT n]`.
pub(crate) struct Walk {
    /// Resume after this member (`None`: from the start).
    pub(crate) after: Option<Bytes>,
    pub(crate) pattern: Option<Bytes>,
    pub(crate) count: usize,
}

/// The cursor (Redis's `parseScanCursorOrReply`) and the options.
pub(crate) fn parse(x: &mut Exec<'_>, argv: &[Bytes]) -> Result<Walk, Frame> {
    let invalid = || reply::err("ERR invalid cursor");
    let cursor = std::str::from_utf8(&argv[2])
        .ok()
        .filter(|_| argv[2].iter().all(u8::is_ascii_digit))
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(invalid)?;
    let (pattern, count) = scan_options(argv)?;
    let after = x.shared.scans.resume_after(cursor).ok_or_else(invalid)?;
    Ok(Walk {
        after,
        pattern,
        count,
    })
}

/// The reply: the next cursor (0 when `last` is `None`), then each member that MATCH keeps,
/// followed by its score when there is one.
pub(crate) fn page(
    x: &mut Exec<'_>,
    walk: &Walk,
    items: Vec<(Bytes, Option<Bytes>)>,
    last: Option<Bytes>,
) -> Frame {
    let next = last.map_or(0, |m| x.shared.scans.issue(m));
    let items = items
        .into_iter()
        .filter(|(m, _)| walk.pattern.as_ref().is_none_or(|p| string_match(p, m)))
        .flat_map(|(m, s)| std::iter::once(Frame::Bulk(m)).chain(s.map(Frame::Bulk)))
        .collect();
    Frame::Array(vec![
        Frame::Bulk(Bytes::from(next.to_string())),
        Frame::Array(items),
    ])
}

/// Takes a page of at most `count` from `members` (already starting after the cursor): the
/// page and, if more follow, the member to resume after.
pub(crate) fn take<T>(
    members: impl Iterator<Item = T>,
    count: usize,
    key_of: impl Fn(&T) -> Bytes,
) -> (Vec<T>, Option<Bytes>) {
    let mut page: Vec<T> = members.take(count.saturating_add(1)).collect();
    let more = page.len() > count;
    page.truncate(count);
    let last = if more { page.last().map(&key_of) } else { None };
    (page, last)
}

/// The MATCH and COUNT options after a cursor (`scanGenericCommand`), shared by HSCAN, SSCAN
/// and ZSCAN.
pub(crate) fn scan_options(argv: &[Bytes]) -> Result<(Option<Bytes>, usize), Frame> {
    let (mut pattern, mut count) = (None, 10usize);
    let mut i = 3;
    while i < argv.len() {
        let has_value = i + 1 < argv.len();
        match argv[i].to_ascii_lowercase().as_slice() {
            b"count" if has_value => {
                let n = integer_arg(&argv[i + 1])?;
                if n < 1 {
                    return Err(reply::err(reply::SYNTAX));
                }
                count = usize::try_from(n).unwrap_or(usize::MAX);
            }
            b"match" if has_value => {
                pattern = Some(argv[i + 1].clone()).filter(|p| p.as_ref() != b"*")
            }
            _ => return Err(reply::err(reply::SYNTAX)),
        }
        i += 2;
    }
    Ok((pattern, count))
}
