//! The command index: every command durakv knows — data, transaction, engine and connection
//! commands — with Redis 7.0's arity, flags, key positions and documentation, and where it
//! executes. Adding a command is one entry here plus its handler.
//!
//! Owns the entries and name resolution. Invariants: names are unique and lower case; a name
//! resolves (ASCII case-insensitively, without allocating) to at most one entry; an entry's
//! position is its [`CommandId`], stable for the life of the process.

use std::sync::OnceLock;

use super::exec::{Command, Handler};
use super::index::{Docs, EngineCommand as E, Flags, Group, Keys, Run};
use super::state::CommandId;
use super::{
    bits, counter, db, expire, hash, hash_walk, introspect, keys, keys_copy, lcs, list, list_block,
    list_move, object, pubsub, range, scan, script, server, sort, string, transaction,
};
use super::{set, set_ops, zset, zset_block, zset_ops, zset_range};
use super::{stream, stream_claim, stream_group, stream_info, stream_read};

const W: Flags = Flags::WRITE;
const R: Flags = Flags::READONLY;
const M: Flags = Flags::DENYOOM;
const F: Flags = Flags::FAST;
const A: Flags = Flags::ADMIN;
const NS: Flags = Flags::NOSCRIPT;
const LS: Flags = Flags::LOADING.union(Flags::STALE);
const NA: Flags = Flags::NO_AUTH;
const NM: Flags = Flags::NO_MULTI;
const AB: Flags = Flags::ALLOW_BUSY;
const NAL: Flags = Flags::NO_ASYNC_LOADING;
const NONE: Flags = Flags::NONE;
const ST: Flags = Flags::STALE;
const MR: Flags = Flags::MAY_REPLICATE;

/// Key positions: none, the first argument, every argument from the first, pairs.
const fn keys(first: i8, last: i8, step: i8) -> Keys {
    Keys { first, last, step }
}
const K0: Keys = keys(0, 0, 0);
const K1: Keys = keys(1, 1, 1);
const KN: Keys = keys(1, -1, 1);
const K2: Keys = keys(1, 2, 1);
const KP: Keys = keys(1, -1, 2);

const fn d(
    f: fn(&mut super::exec::Exec<'_>, &[bytes::Bytes]) -> crate::resp::Frame,
) -> Run<Handler> {
    Run::Data(Handler(f))
}

const fn c(
    f: fn(&mut super::exec::Exec<'_>, &[bytes::Bytes]) -> crate::resp::Frame,
) -> Run<Handler> {
    Run::Control(Handler(f))
}

#[allow(clippy::too_many_arguments)]
const fn cmd(
    name: &'static str,
    arity: i32,
    flags: Flags,
    keys: Keys,
    group: Group,
    since: &'static str,
    complexity: &'static str,
    summary: &'static str,
    run: Run<Handler>,
) -> Command {
    let docs = Docs {
        summary,
        since,
        group,
        complexity,
    };
    Command {
        name,
        arity,
        flags,
        keys,
        docs,
        run,
    }
}

use Group::{
    Connection as Conn, Generic as Gen, Hash as Hsh, List as Lst, Pubsub as Ps, Scripting as Scr,
    Server as Srv, String as Str, Transactions as Tx,
};
const PS: Flags = Flags::PUBSUB;
use Group::{Bitmap as Bm, Set as Se, SortedSet as Zs, Stream as Xs};

const O1: &str = "O(1)";
const ON: &str = "O(N)";
const LOGN: &str = "O(log(N))";

/// The index. Order is only presentation (COMMAND lists it); ids are positions.
#[rustfmt::skip]
static COMMANDS: &[Command] = &[
    cmd("get", 2, R.union(F), K1, Str, "1.0.0", O1, "Get the value of a key", d(string::get)),
    cmd("set", -3, W.union(M), K1, Str, "1.0.0", O1, "Set the string value of a key", d(string::set)),
    cmd("setnx", 3, W.union(M).union(F), K1, Str, "1.0.0", O1, "Set the value of a key, only if the key does not exist", d(string::setnx)),
    cmd("setex", 4, W.union(M), K1, Str, "2.0.0", O1, "Set the value and expiration of a key", d(string::setex)),
    cmd("psetex", 4, W.union(M), K1, Str, "2.6.0", O1, "Set the value and expiration in milliseconds of a key", d(string::psetex)),
    cmd("getdel", 2, W.union(F), K1, Str, "6.2.0", O1, "Get the value of a key and delete the key", d(string::getdel)),
    cmd("getex", -2, W.union(F), K1, Str, "6.2.0", O1, "Get the value of a key and optionally set its expiration", d(string::getex)),
    cmd("getset", 3, W.union(M), K1, Str, "1.0.0", O1, "Set the string value of a key and return its old value", d(string::getset)),
    cmd("mget", -2, R.union(F), KN, Str, "1.0.0", ON, "Get the values of all the given keys", d(string::mget)),
    cmd("mset", -3, W.union(M), KP, Str, "1.0.1", ON, "Set multiple keys to multiple values", d(string::mset)),
    cmd("msetnx", -3, W.union(M), KP, Str, "1.0.1", ON, "Set multiple keys to multiple values, only if none of the keys exist", d(string::msetnx)),
    cmd("incr", 2, W.union(M).union(F), K1, Str, "1.0.0", O1, "Increment the integer value of a key by one", d(counter::incr)),
    cmd("decr", 2, W.union(M).union(F), K1, Str, "1.0.0", O1, "Decrement the integer value of a key by one", d(counter::decr)),
    cmd("incrby", 3, W.union(M).union(F), K1, Str, "1.0.0", O1, "Increment the integer value of a key by the given amount", d(counter::incrby)),
    cmd("decrby", 3, W.union(M).union(F), K1, Str, "1.0.0", O1, "Decrement the integer value of a key by the given number", d(counter::decrby)),
    cmd("incrbyfloat", 3, W.union(M).union(F), K1, Str, "2.6.0", O1, "Increment the float value of a key by the given amount", d(counter::incrbyfloat)),
    cmd("append", 3, W.union(M).union(F), K1, Str, "2.0.0", O1, "Append a value to a key", d(range::append)),
    cmd("strlen", 2, R.union(F), K1, Str, "2.2.0", O1, "Get the length of the value stored in a key", d(range::strlen)),
    cmd("getrange", 4, R, K1, Str, "2.4.0", ON, "Get a substring of the string stored at a key", d(range::getrange)),
    cmd("substr", 4, R, K1, Str, "1.0.0", ON, "Get a substring of the string stored at a key", d(range::getrange)),
    cmd("setbit", 4, W.union(M), K1, Bm, "2.2.0", O1, "Sets or clears the bit at offset in the string value stored at key", d(bits::setbit)),
    cmd("getbit", 3, R.union(F), K1, Bm, "2.2.0", O1, "Returns the bit value at offset in the string value stored at key", d(bits::getbit)),
    cmd("bitcount", -2, R, K1, Bm, "2.6.0", ON, "Count set bits in a string", d(bits::bitcount)),
    cmd("lcs", -3, R, K2, Str, "7.0.0", "O(N*M) where N and M are the lengths of s1 and s2, respectively", "Find longest common substring", d(lcs::lcs)),
    cmd("setrange", 4, W.union(M), K1, Str, "2.2.0", O1, "Overwrite part of a string at key starting at the specified offset", d(range::setrange)),
    cmd("lpush", -3, W.union(M).union(F), K1, Lst, "1.0.0", O1, "Prepend one or multiple elements to a list", d(list::lpush)),
    cmd("rpush", -3, W.union(M).union(F), K1, Lst, "1.0.0", O1, "Append one or multiple elements to a list", d(list::rpush)),
    cmd("lpushx", -3, W.union(M).union(F), K1, Lst, "2.2.0", O1, "Prepend an element to a list, only if the list exists", d(list::lpushx)),
    cmd("rpushx", -3, W.union(M).union(F), K1, Lst, "2.2.0", O1, "Append an element to a list, only if the list exists", d(list::rpushx)),
    cmd("lpop", -2, W.union(F), K1, Lst, "1.0.0", ON, "Remove and get the first elements in a list", d(list::lpop)),
    cmd("rpop", -2, W.union(F), K1, Lst, "1.0.0", ON, "Remove and get the last elements in a list", d(list::rpop)),
    cmd("llen", 2, R.union(F), K1, Lst, "1.0.0", O1, "Get the length of a list", d(list::llen)),
    cmd("lrange", 4, R, K1, Lst, "1.0.0", ON, "Get a range of elements from a list", d(list::lrange)),
    cmd("lindex", 3, R, K1, Lst, "1.0.0", ON, "Get an element from a list by its index", d(list::lindex)),
    cmd("lset", 4, W.union(M), K1, Lst, "1.0.0", ON, "Set the value of an element in a list by its index", d(list::lset)),
    cmd("linsert", 5, W.union(M), K1, Lst, "2.2.0", ON, "Insert an element before or after another element in a list", d(list::linsert)),
    cmd("lrem", 4, W, K1, Lst, "1.0.0", ON, "Remove elements from a list", d(list::lrem)),
    cmd("ltrim", 4, W, K1, Lst, "1.0.0", ON, "Trim a list to the specified range", d(list::ltrim)),
    cmd("lpos", -3, R, K1, Lst, "6.0.6", ON, "Return the index of matching elements on a list", d(list_move::lpos)),
    cmd("lmove", 5, W.union(M), K2, Lst, "6.2.0", O1, "Pop an element from a list, push it to another list and return it", d(list_move::lmove)),
    cmd("rpoplpush", 3, W.union(M), K2, Lst, "1.2.0", O1, "Remove the last element in a list, prepend it to another list and return it", d(list_move::rpoplpush)),
    cmd("lmpop", -4, W, K0, Lst, "7.0.0", "O(N+M) where N is the number of provided keys and M is the number of elements returned.", "Pop elements from a list", d(list_move::lmpop)),
    cmd("blpop", -3, W.union(NS), keys(1, -2, 1), Lst, "2.0.0", "O(N) where N is the number of provided keys.", "Remove and get the first element in a list, or block until one is available", d(list_block::blpop)),
    cmd("brpop", -3, W.union(NS), keys(1, -2, 1), Lst, "2.0.0", "O(N) where N is the number of provided keys.", "Remove and get the last element in a list, or block until one is available", d(list_block::brpop)),
    cmd("blmove", 6, W.union(M).union(NS), K2, Lst, "6.2.0", O1, "Pop an element from a list, push it to another list and return it; or block until one is available", d(list_block::blmove)),
    cmd("brpoplpush", 4, W.union(M).union(NS), K2, Lst, "2.2.0", O1, "Pop an element from a list, push it to another list and return it; or block until one is available", d(list_block::brpoplpush)),
    cmd("blmpop", -5, W, K0, Lst, "7.0.0", "O(N+M) where N is the number of provided keys and M is the number of elements returned.", "Pop elements from a list, or block until one is available", d(list_block::blmpop)),
    cmd("sort", -2, W.union(M), K1, Gen, "1.0.0", "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements.", "Sort the elements in a list, set or sorted set", d(sort::sort)),
    cmd("sort_ro", -2, R, K1, Gen, "7.0.0", "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements.", "Sort the elements in a list, set or sorted set. Read-only variant of SORT.", d(sort::sort_ro)),
    cmd("hset", -4, W.union(M).union(F), K1, Hsh, "2.0.0", O1, "Set the string value of a hash field", d(hash::hset)),
    cmd("hsetnx", 4, W.union(M).union(F), K1, Hsh, "2.0.0", O1, "Set the value of a hash field, only if the field does not exist", d(hash::hsetnx)),
    cmd("hmset", -4, W.union(M).union(F), K1, Hsh, "2.0.0", ON, "Set multiple hash fields to multiple values", d(hash::hmset)),
    cmd("hget", 3, R.union(F), K1, Hsh, "2.0.0", O1, "Get the value of a hash field", d(hash::hget)),
    cmd("hmget", -3, R.union(F), K1, Hsh, "2.0.0", ON, "Get the values of all the given hash fields", d(hash::hmget)),
    cmd("hdel", -3, W.union(F), K1, Hsh, "2.0.0", ON, "Delete one or more hash fields", d(hash::hdel)),
    cmd("hlen", 2, R.union(F), K1, Hsh, "2.0.0", O1, "Get the number of fields in a hash", d(hash::hlen)),
    cmd("hstrlen", 3, R.union(F), K1, Hsh, "3.2.0", O1, "Get the length of the value of a hash field", d(hash::hstrlen)),
    cmd("hexists", 3, R.union(F), K1, Hsh, "2.0.0", O1, "Determine if a hash field exists", d(hash::hexists)),
    cmd("hkeys", 2, R, K1, Hsh, "2.0.0", ON, "Get all the fields in a hash", d(hash::hkeys)),
    cmd("hvals", 2, R, K1, Hsh, "2.0.0", ON, "Get all the values in a hash", d(hash::hvals)),
    cmd("hgetall", 2, R, K1, Hsh, "2.0.0", ON, "Get all the fields and values in a hash", d(hash::hgetall)),
    cmd("hincrby", 4, W.union(M).union(F), K1, Hsh, "2.0.0", O1, "Increment the integer value of a hash field by the given number", d(hash::hincrby)),
    cmd("hincrbyfloat", 4, W.union(M).union(F), K1, Hsh, "2.6.0", O1, "Increment the float value of a hash field by the given amount", d(hash::hincrbyfloat)),
    cmd("hrandfield", -2, R, K1, Hsh, "6.2.0", ON, "Get one or multiple random fields from a hash", d(hash_walk::hrandfield)),
    cmd("hscan", -3, R, K1, Hsh, "2.8.0", O1, "Incrementally iterate hash fields and associated values", d(hash_walk::hscan)),
    cmd("sadd", -3, W.union(M).union(F), K1, Se, "1.0.0", O1, "Add one or more members to a set", d(set::sadd)),
    cmd("srem", -3, W.union(F), K1, Se, "1.0.0", ON, "Remove one or more members from a set", d(set::srem)),
    cmd("smembers", 2, R, K1, Se, "1.0.0", ON, "Get all the members in a set", d(set::smembers)),
    cmd("sismember", 3, R.union(F), K1, Se, "1.0.0", O1, "Determine if a given value is a member of a set", d(set::sismember)),
    cmd("smismember", -3, R.union(F), K1, Se, "6.2.0", ON, "Returns the membership associated with the given elements for a set", d(set::smismember)),
    cmd("scard", 2, R.union(F), K1, Se, "1.0.0", O1, "Get the number of members in a set", d(set::scard)),
    cmd("spop", -2, W.union(F), K1, Se, "1.0.0", ON, "Remove and return one or multiple random members from a set", d(set::spop)),
    cmd("srandmember", -2, R, K1, Se, "1.0.0", ON, "Get one or multiple random members from a set", d(set::srandmember)),
    cmd("smove", 4, W.union(F), K2, Se, "1.0.0", O1, "Move a member from one set to another", d(set::smove)),
    cmd("sscan", -3, R, K1, Se, "2.8.0", O1, "Incrementally iterate Set elements", d(set::sscan)),
    cmd("sinter", -2, R, KN, Se, "1.0.0", ON, "Intersect multiple sets", d(set_ops::sinter)),
    cmd("sintercard", -3, R, K0, Se, "7.0.0", ON, "Intersect multiple sets and return the cardinality of the result", d(set_ops::sintercard)),
    cmd("sunion", -2, R, KN, Se, "1.0.0", ON, "Add multiple sets", d(set_ops::sunion)),
    cmd("sdiff", -2, R, KN, Se, "1.0.0", ON, "Subtract multiple sets", d(set_ops::sdiff)),
    cmd("sinterstore", -3, W.union(M), KN, Se, "1.0.0", ON, "Intersect multiple sets and store the resulting set in a key", d(set_ops::sinterstore)),
    cmd("sunionstore", -3, W.union(M), KN, Se, "1.0.0", ON, "Add multiple sets and store the resulting set in a key", d(set_ops::sunionstore)),
    cmd("sdiffstore", -3, W.union(M), KN, Se, "1.0.0", ON, "Subtract multiple sets and store the resulting set in a key", d(set_ops::sdiffstore)),
    cmd("zadd", -4, W.union(M).union(F), K1, Zs, "1.2.0", LOGN, "Add one or more members to a sorted set, or update its score if it already exists", d(zset::zadd)),
    cmd("zincrby", 4, W.union(M).union(F), K1, Zs, "1.2.0", LOGN, "Increment the score of a member in a sorted set", d(zset::zincrby)),
    cmd("zrem", -3, W.union(F), K1, Zs, "1.2.0", LOGN, "Remove one or more members from a sorted set", d(zset::zrem)),
    cmd("zcard", 2, R.union(F), K1, Zs, "1.2.0", O1, "Get the number of members in a sorted set", d(zset::zcard)),
    cmd("zscore", 3, R.union(F), K1, Zs, "1.2.0", O1, "Get the score associated with the given member in a sorted set", d(zset::zscore)),
    cmd("zmscore", -3, R.union(F), K1, Zs, "6.2.0", ON, "Get the score associated with the given members in a sorted set", d(zset::zmscore)),
    cmd("zrank", 3, R.union(F), K1, Zs, "2.0.0", LOGN, "Determine the index of a member in a sorted set", d(zset::zrank)),
    cmd("zrevrank", 3, R.union(F), K1, Zs, "2.0.0", LOGN, "Determine the index of a member in a sorted set, with scores ordered from high to low", d(zset::zrevrank)),
    cmd("zcount", 4, R.union(F), K1, Zs, "2.0.0", LOGN, "Count the members in a sorted set with scores within the given values", d(zset::zcount)),
    cmd("zlexcount", 4, R.union(F), K1, Zs, "2.8.9", LOGN, "Count the number of members in a sorted set between a given lexicographical range", d(zset::zlexcount)),
    cmd("zpopmin", -2, W.union(F), K1, Zs, "5.0.0", LOGN, "Remove and return members with the lowest scores in a sorted set", d(zset::zpopmin)),
    cmd("zpopmax", -2, W.union(F), K1, Zs, "5.0.0", LOGN, "Remove and return members with the highest scores in a sorted set", d(zset::zpopmax)),
    cmd("zmpop", -4, W, K0, Zs, "7.0.0", LOGN, "Remove and return members with scores in a sorted set", d(zset::zmpop)),
    cmd("bzpopmin", -3, W.union(NS).union(F), keys(1, -2, 1), Zs, "5.0.0", LOGN, "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", d(zset_block::bzpopmin)),
    cmd("bzpopmax", -3, W.union(NS).union(F), keys(1, -2, 1), Zs, "5.0.0", LOGN, "Remove and return the member with the highest score from one or more sorted sets, or block until one is available", d(zset_block::bzpopmax)),
    cmd("bzmpop", -5, W, K0, Zs, "7.0.0", LOGN, "Remove and return members with scores in a sorted set or block until one is available", d(zset_block::bzmpop)),
    cmd("zrandmember", -2, R, K1, Zs, "6.2.0", ON, "Get one or multiple random elements from a sorted set", d(zset::zrandmember)),
    cmd("zscan", -3, R, K1, Zs, "2.8.0", O1, "Incrementally iterate sorted sets elements and associated scores", d(zset::zscan)),
    cmd("zrange", -4, R, K1, Zs, "1.2.0", LOGN, "Return a range of members in a sorted set", d(zset_range::zrange)),
    cmd("xadd", -5, W.union(M).union(F), K1, Xs, "5.0.0", O1, "Appends a new entry to a stream", d(stream::xadd)),
    cmd("xlen", 2, R.union(F), K1, Xs, "5.0.0", O1, "Return the number of entries in a stream", d(stream::xlen)),
    cmd("xrange", -4, R, K1, Xs, "5.0.0", ON, "Return a range of elements in a stream, with IDs matching the specified IDs interval", d(stream::xrange)),
    cmd("xrevrange", -4, R, K1, Xs, "5.0.0", ON, "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE", d(stream::xrevrange)),
    cmd("xdel", -3, W.union(F), K1, Xs, "5.0.0", O1, "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.", d(stream::xdel)),
    cmd("xtrim", -4, W, K1, Xs, "5.0.0", ON, "Trims the stream to (approximately if '~' is passed) a certain size", d(stream::xtrim)),
    cmd("xsetid", -3, W.union(M).union(F), K1, Xs, "5.0.0", O1, "An internal command for replicating stream values", d(stream::xsetid)),
    cmd("xread", -4, R, K0, Xs, "5.0.0", ON, "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.", d(stream_read::xread)),
    cmd("xreadgroup", -7, W, K0, Xs, "5.0.0", ON, "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.", d(stream_read::xreadgroup)),
    cmd("xgroup", -2, W, K0, Xs, "5.0.0", O1, "A container for consumer groups commands", d(stream_group::xgroup)),
    cmd("xack", -4, W.union(F), K1, Xs, "5.0.0", O1, "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.", d(stream_group::xack)),
    cmd("xpending", -3, R, K1, Xs, "5.0.0", ON, "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.", d(stream_group::xpending)),
    cmd("xclaim", -6, W.union(F), K1, Xs, "5.0.0", LOGN, "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.", d(stream_claim::xclaim)),
    cmd("xautoclaim", -6, W.union(F), K1, Xs, "6.2.0", O1, "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.", d(stream_claim::xautoclaim)),
    cmd("xinfo", -2, R, K0, Xs, "5.0.0", O1, "A container for stream introspection commands", d(stream_info::xinfo)),
    cmd("zrangestore", -5, W.union(M), K2, Zs, "6.2.0", LOGN, "Store a range of members from sorted set into another key", d(zset_range::zrangestore)),
    cmd("zrevrange", -4, R, K1, Zs, "1.2.0", LOGN, "Return a range of members in a sorted set, by index, with scores ordered from high to low", d(zset_range::zrevrange)),
    cmd("zrangebyscore", -4, R, K1, Zs, "1.0.5", LOGN, "Return a range of members in a sorted set, by score", d(zset_range::zrangebyscore)),
    cmd("zrevrangebyscore", -4, R, K1, Zs, "2.2.0", LOGN, "Return a range of members in a sorted set, by score, with scores ordered from high to low", d(zset_range::zrevrangebyscore)),
    cmd("zrangebylex", -4, R, K1, Zs, "2.8.9", LOGN, "Return a range of members in a sorted set, by lexicographical range", d(zset_range::zrangebylex)),
    cmd("zrevrangebylex", -4, R, K1, Zs, "2.8.9", LOGN, "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.", d(zset_range::zrevrangebylex)),
    cmd("zremrangebyrank", 4, W, K1, Zs, "2.0.0", LOGN, "Remove all members in a sorted set within the given indexes", d(zset_range::zremrangebyrank)),
    cmd("zremrangebyscore", 4, W, K1, Zs, "1.2.0", LOGN, "Remove all members in a sorted set within the given scores", d(zset_range::zremrangebyscore)),
    cmd("zremrangebylex", 4, W, K1, Zs, "2.8.9", LOGN, "Remove all members in a sorted set between the given lexicographical range", d(zset_range::zremrangebylex)),
    cmd("zunion", -3, R, K0, Zs, "6.2.0", ON, "Add multiple sorted sets", d(zset_ops::zunion)),
    cmd("zinter", -3, R, K0, Zs, "6.2.0", ON, "Intersect multiple sorted sets", d(zset_ops::zinter)),
    cmd("zdiff", -3, R, K0, Zs, "6.2.0", ON, "Subtract multiple sorted sets", d(zset_ops::zdiff)),
    cmd("zunionstore", -4, W.union(M), K0, Zs, "2.0.0", ON, "Add multiple sorted sets and store the resulting sorted set in a new key", d(zset_ops::zunionstore)),
    cmd("zinterstore", -4, W.union(M), K0, Zs, "2.0.0", ON, "Intersect multiple sorted sets and store the resulting sorted set in a new key", d(zset_ops::zinterstore)),
    cmd("zdiffstore", -4, W.union(M), K0, Zs, "6.2.0", ON, "Subtract multiple sorted sets and store the resulting sorted set in a new key", d(zset_ops::zdiffstore)),
    cmd("zintercard", -3, R, K0, Zs, "7.0.0", ON, "Intersect multiple sorted sets and return the cardinality of the result", d(zset_ops::zintercard)),
    cmd("del", -2, W, KN, Gen, "1.0.0", ON, "Delete a key", d(keys::del)),
    cmd("unlink", -2, W.union(F), KN, Gen, "4.0.0", ON, "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.", d(keys::del)),
    cmd("exists", -2, R.union(F), KN, Gen, "1.0.0", ON, "Determine if a key exists", d(keys::exists)),
    cmd("type", 2, R.union(F), K1, Gen, "1.0.0", O1, "Determine the type stored at key", d(keys::type_)),
    cmd("rename", 3, W, K2, Gen, "1.0.0", O1, "Rename a key", d(keys::rename)),
    cmd("renamenx", 3, W.union(F), K2, Gen, "1.0.0", O1, "Rename a key, only if the new key does not exist", d(keys::renamenx)),
    cmd("keys", 2, R, K0, Gen, "1.0.0", ON, "Find all keys matching the given pattern", d(keys::keys)),
    cmd("randomkey", 1, R, K0, Gen, "1.0.0", O1, "Return a random key from the keyspace", d(keys::randomkey)),
    cmd("scan", -2, R, K0, Gen, "2.8.0", O1, "Incrementally iterate the keys space", d(scan::scan)),
    cmd("expire", -3, W.union(F), K1, Gen, "1.0.0", O1, "Set a key's time to live in seconds", d(expire::expire)),
    cmd("pexpire", -3, W.union(F), K1, Gen, "2.6.0", O1, "Set a key's time to live in milliseconds", d(expire::pexpire)),
    cmd("expireat", -3, W.union(F), K1, Gen, "1.2.0", O1, "Set the expiration for a key as a UNIX timestamp", d(expire::expireat)),
    cmd("pexpireat", -3, W.union(F), K1, Gen, "2.6.0", O1, "Set the expiration for a key as a UNIX timestamp specified in milliseconds", d(expire::pexpireat)),
    cmd("ttl", 2, R.union(F), K1, Gen, "1.0.0", O1, "Get the time to live for a key in seconds", d(expire::ttl)),
    cmd("pttl", 2, R.union(F), K1, Gen, "2.6.0", O1, "Get the time to live for a key in milliseconds", d(expire::pttl)),
    cmd("copy", -3, W.union(M), K2, Gen, "6.2.0", ON, "Copy a key", d(keys_copy::copy)),
    cmd("move", 3, W.union(F), K1, Gen, "1.0.0", O1, "Move a key to another database", d(keys_copy::move_)),
    cmd("expiretime", 2, R.union(F), K1, Gen, "7.0.0", O1, "Get the expiration Unix timestamp for a key", d(keys_copy::expiretime)),
    cmd("pexpiretime", 2, R.union(F), K1, Gen, "7.0.0", O1, "Get the expiration Unix timestamp for a key in milliseconds", d(keys_copy::pexpiretime)),
    cmd("persist", 2, W.union(F), K1, Gen, "2.2.0", O1, "Remove the expiration from a key", d(expire::persist)),
    cmd("dump", 2, R, K1, Gen, "2.6.0", O1, "Return a serialized version of the value stored at the specified key.", d(object::dump)),
    cmd("restore", -4, W.union(M), K1, Gen, "2.6.0", O1, "Create a key using the provided serialized value, previously obtained using DUMP.", d(object::restore)),
    cmd("object", -2, R, K0, Gen, "2.2.3", O1, "A container for object introspection commands", d(object::object)),
    cmd("memory", -2, R, K0, Srv, "4.0.0", "Depends on subcommand.", "A container for memory diagnostics commands", d(object::memory)),
    cmd("select", 2, LS.union(F), K0, Conn, "1.0.0", O1, "Change the selected database for the current connection", d(db::select)),
    cmd("swapdb", 3, W.union(F), K0, Srv, "4.0.0", ON, "Swaps two Redis databases", d(db::swapdb)),
    cmd("flushdb", -1, W, K0, Srv, "1.0.0", ON, "Remove all keys from the current database", d(db::flushdb)),
    cmd("flushall", -1, W, K0, Srv, "1.0.0", ON, "Remove all keys from all databases", d(db::flushall)),
    cmd("dbsize", 1, R.union(F), K0, Srv, "1.0.0", O1, "Return the number of keys in the selected database", d(db::dbsize)),
    cmd("ping", -1, F, K0, Conn, "1.0.0", O1, "Ping the server", d(server::ping)),
    cmd("echo", 2, F.union(ST), K0, Conn, "1.0.0", O1, "Echo the given string", d(server::echo)),
    cmd("cluster", -2, NS, K0, Srv, "3.0.0", "Depends on subcommand.", "A container for Redis Cluster commands", d(server::cluster)),
    cmd("time", 1, LS.union(F), K0, Srv, "2.6.0", O1, "Return the current server time", d(server::time)),
    cmd("command", -1, LS, K0, Srv, "2.8.13", ON, "Get array of Redis command details", d(introspect::command)),
    cmd("multi", 1, NS.union(LS).union(F).union(AB), K0, Tx, "1.2.0", O1, "Mark the start of a transaction block", c(transaction::multi)),
    cmd("exec", 1, NS.union(LS).union(Flags::SKIP_SLOWLOG), K0, Tx, "1.2.0", ON, "Execute all commands issued after MULTI", c(transaction::exec)),
    cmd("discard", 1, NS.union(LS).union(F).union(AB), K0, Tx, "2.0.0", ON, "Discard all commands issued after MULTI", c(transaction::discard)),
    cmd("watch", -2, NS.union(LS).union(F).union(AB), KN, Tx, "2.2.0", O1, "Watch the given keys to determine execution of the MULTI/EXEC block", c(transaction::watch)),
    cmd("unwatch", 1, NS.union(LS).union(F).union(AB), K0, Tx, "2.2.0", O1, "Forget about all watched keys", d(transaction::unwatch)),
    cmd("eval", -3, NS.union(ST).union(MR), K0, Scr, "2.6.0", "Depends on the script that is executed.", "Execute a Lua script server side", d(script::eval)),
    cmd("evalsha", -3, NS.union(ST).union(MR), K0, Scr, "2.6.0", "Depends on the script that is executed.", "Execute a Lua script server side", d(script::evalsha)),
    cmd("eval_ro", -3, NS.union(ST).union(R), K0, Scr, "7.0.0", "Depends on the script that is executed.", "Execute a read-only Lua script server side", d(script::eval_ro)),
    cmd("evalsha_ro", -3, NS.union(ST).union(R), K0, Scr, "7.0.0", "Depends on the script that is executed.", "Execute a read-only Lua script server side", d(script::evalsha_ro)),
    cmd("script", -2, NONE, K0, Scr, "2.6.0", "Depends on subcommand.", "A container for Lua scripts management commands", d(script::script)),
    cmd("fcall", -3, NS.union(ST).union(MR), K0, Scr, "7.0.0", "Depends on the function that is executed.", "Invoke a function", d(script::fcall)),
    cmd("fcall_ro", -3, NS.union(ST).union(R), K0, Scr, "7.0.0", "Depends on the function that is executed.", "Invoke a read-only function", d(script::fcall_ro)),
    cmd("function", -2, NONE, K0, Scr, "7.0.0", "Depends on subcommand.", "A container for function commands", d(script::function)),
    cmd("save", 1, A.union(NS).union(NAL).union(NM), K0, Srv, "1.0.0", ON, "Synchronously save the dataset to disk", Run::Engine(E::Save)),
    cmd("bgsave", -1, A.union(NS).union(NAL), K0, Srv, "1.0.0", ON, "Asynchronously save the dataset to disk", Run::Engine(E::Bgsave)),
    cmd("lastsave", 1, LS.union(F), K0, Srv, "1.0.0", O1, "Get the UNIX time stamp of the last successful save to disk", Run::Engine(E::Lastsave)),
    cmd("bgrewriteaof", 1, A.union(NS).union(NAL), K0, Srv, "1.0.0", ON, "Asynchronously rewrite the append-only file", Run::Engine(E::Bgrewriteaof)),
    cmd("debug", -2, A.union(NS).union(LS).union(Flags::PROTECTED), K0, Srv, "1.0.0", "Depends on subcommand.", "A container for debugging commands", Run::Engine(E::Debug)),
    cmd("auth", -2, NS.union(LS).union(F).union(NA).union(AB), K0, Conn, "1.0.0", ON, "Authenticate to the server", Run::Engine(E::Auth)),
    cmd("hello", -1, NS.union(LS).union(F).union(NA).union(AB), K0, Conn, "6.0.0", O1, "Handshake with Redis", Run::Engine(E::Hello)),
    cmd("client", -2, NONE, K0, Conn, "2.4.0", "Depends on subcommand.", "A container for client connection commands", Run::Engine(E::Client)),
    cmd("config", -2, NONE, K0, Srv, "2.0.0", "Depends on subcommand.", "A container for server configuration commands", Run::Engine(E::Config)),
    cmd("info", -1, LS, K0, Srv, "1.0.0", O1, "Get information and statistics about the server", Run::Engine(E::Info)),
    cmd("shutdown", -1, A.union(NS).union(LS).union(NM).union(AB), K0, Srv, "1.0.0", ON, "Synchronously save the dataset to disk and then shut down the server", Run::Engine(E::Shutdown)),
    cmd("reset", 1, NS.union(LS).union(F).union(NA).union(AB), K0, Conn, "6.2.0", O1, "Reset the connection", Run::Engine(E::Reset)),
    cmd("subscribe", -2, PS.union(NS).union(LS), K0, Ps, "2.0.0", ON, "Listen for messages published to the given channels", d(pubsub::subscribe)),
    cmd("unsubscribe", -1, PS.union(NS).union(LS), K0, Ps, "2.0.0", ON, "Stop listening for messages posted to the given channels", d(pubsub::unsubscribe)),
    cmd("psubscribe", -2, PS.union(NS).union(LS), K0, Ps, "2.0.0", ON, "Listen for messages published to channels matching the given patterns", d(pubsub::psubscribe)),
    cmd("punsubscribe", -1, PS.union(NS).union(LS), K0, Ps, "2.0.0", ON, "Stop listening for messages posted to channels matching the given patterns", d(pubsub::punsubscribe)),
    cmd("ssubscribe", -2, PS.union(NS).union(LS), KN, Ps, "7.0.0", ON, "Listen for messages published to the given shard channels", d(pubsub::ssubscribe)),
    cmd("sunsubscribe", -1, PS.union(NS).union(LS), KN, Ps, "7.0.0", ON, "Stop listening for messages posted to the given shard channels", d(pubsub::sunsubscribe)),
    cmd("publish", 3, PS.union(LS).union(F).union(MR), K0, Ps, "2.0.0", "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).", "Post a message to a channel", d(pubsub::publish)),
    cmd("spublish", 3, PS.union(LS).union(F).union(MR), K1, Ps, "7.0.0", "O(N) where N is the number of clients subscribed to the receiving shard channel.", "Post a message to a shard channel", d(pubsub::spublish)),
    cmd("pubsub", -2, NONE, K0, Ps, "2.8.0", "Depends on subcommand.", "A container for Pub/Sub commands", d(pubsub::pubsub)),
    cmd("replconf", -1, A.union(NS).union(LS).union(AB), K0, Srv, "3.0.0", O1, "An internal command for configuring the replication stream", Run::Engine(E::Replconf)),
    cmd("sync", 1, A.union(NS).union(NAL).union(NM), K0, Srv, "1.0.0", "", "Internal command used for replication", Run::Engine(E::Sync)),
    cmd("psync", -3, A.union(NS).union(NAL).union(NM), K0, Srv, "2.8.0", "", "Internal command used for replication", Run::Engine(E::Sync)),
    cmd("wait", 3, NS, K0, Gen, "3.0.0", O1, "Wait for the synchronous replication of all the write commands sent in the context of the current connection", Run::Engine(E::Wait)),
    cmd("waitaof", 4, NS, K0, Gen, "7.2.0", O1, "Blocks until all of the preceding write commands sent by the connection are written to the append-only file of the master and/or replicas.", Run::Engine(E::Waitaof)),
    cmd("role", 1, NS.union(LS).union(F), K0, Srv, "2.8.12", O1, "Return the role of the instance in the context of replication", Run::Engine(E::Role)),
    cmd("replicaof", 3, A.union(NS).union(ST).union(NAL), K0, Srv, "5.0.0", O1, "Make the server a replica of another instance, or promote it as master.", Run::Engine(E::Replicaof)),
    cmd("slaveof", 3, A.union(NS).union(ST).union(NAL), K0, Srv, "1.0.0", O1, "Make the server a replica of another instance, or promote it as master. Deprecated starting with Redis 5. Use REPLICAOF instead.", Run::Engine(E::Replicaof)),
    cmd("quit", -1, AB.union(NS).union(LS).union(F).union(NA), K0, Conn, "1.0.0", O1, "Close the connection", Run::Connection),
];

/// Longest command name: a longer word cannot be a command, so resolution needs no allocation.
const NAME_LEN_MAX: usize = 16;

/// Every entry, in index order (`CommandId` is the position).
pub(crate) fn commands() -> &'static [Command] {
    COMMANDS
}

/// The entry of a resolved command.
pub(crate) fn entry(id: CommandId) -> &'static Command {
    &COMMANDS[id.index()]
}

/// Names sorted for binary search, built once on first use.
fn by_name() -> &'static [(&'static [u8], CommandId)] {
    static BY_NAME: OnceLock<Vec<(&'static [u8], CommandId)>> = OnceLock::new();
    BY_NAME.get_or_init(|| {
        let mut index: Vec<_> = (0..COMMANDS.len())
            .map(|i| {
                let id = CommandId(u8::try_from(i).expect("at most 256 commands"));
                (COMMANDS[i].name.as_bytes(), id)
            })
            .collect();
        index.sort_unstable();
        index
    })
}

/// The command a request names, in any letter case, without allocating.
pub(crate) fn resolve(name: &[u8]) -> Option<CommandId> {
    if name.len() > NAME_LEN_MAX {
        return None;
    }
    let mut buf = [0u8; NAME_LEN_MAX];
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    let index = by_name();
    let found = index.binary_search_by(|(n, _)| (*n).cmp(&*lower)).ok()?;
    Some(index[found].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_lower_case_short_and_resolve_in_any_case() {
        for (i, c) in COMMANDS.iter().enumerate() {
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert!(c.name.len() <= NAME_LEN_MAX, "{} is too long", c.name);
            let upper = c.name.to_ascii_uppercase();
            assert_eq!(resolve(upper.as_bytes()).map(CommandId::index), Some(i));
            assert_eq!(resolve(c.name.as_bytes()).map(CommandId::index), Some(i));
        }
        assert_eq!(by_name().len(), COMMANDS.len());
        assert!(
            by_name().windows(2).all(|w| w[0].0 < w[1].0),
            "a name twice"
        );
        assert!(resolve(b"nosuch").is_none());
        assert!(resolve(b"").is_none());
        assert!(resolve(&[b'g'; 300]).is_none());
    }

    #[test]
    fn arity_and_flags_match_redis_for_a_sample() {
        let get = entry(resolve(b"GET").unwrap());
        assert_eq!((get.arity, get.is_write()), (2, false));
        let set = entry(resolve(b"Set").unwrap());
        assert_eq!((set.arity, set.is_write()), (-3, true));
        assert!(set.arity_ok(5) && !set.arity_ok(2));
        let exec = entry(resolve(b"exec").unwrap());
        assert!(matches!(exec.run, Run::Control(_)));
        let quit = entry(resolve(b"quit").unwrap());
        assert!(matches!(quit.run, Run::Connection));
        assert!(quit.flags.contains(Flags::NO_AUTH));
    }

    #[test]
    fn only_write_commands_are_flagged_write_and_none_is_both() {
        for c in COMMANDS {
            assert!(
                !(c.is_write() && c.flags.contains(Flags::READONLY)),
                "{}",
                c.name
            );
        }
        let writes: Vec<&str> = COMMANDS
            .iter()
            .filter(|c| c.is_write())
            .map(|c| c.name)
            .collect();
        for name in [
            "set",
            "del",
            "expire",
            "flushall",
            "swapdb",
            "incrbyfloat",
            "persist",
        ] {
            assert!(writes.contains(&name), "{name}");
        }
    }
}
