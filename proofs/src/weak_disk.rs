//! The weak-disk configurations: the engine over a disk that lies (`lies.rs`), and the lies
//! under which a guarantee legitimately fails, each caught with its counterexample.
//!
//! Bounds: one client, two writes, one crash (power loss or kill -9) and the one procedure
//! each lie is about. Per-directory metadata matters only where an operation of one
//! directory is followed by one of another before a directory fsync covers the first (the
//! AOF directory's creation, a rewrite's base renamed across directories, a switch's
//! manifest), so one rewrite or one switch puts every such pair in reach (RDB-only
//! persistence touches one directory, where per-directory metadata is the honest journal); damage hits any
//! synced byte of any file (every byte for a flip, every 8th for garbage), and one record
//! plus its checksum line is every kind of byte an incr file holds.

use model::config::{FsyncPolicy, Mutation};
use model::sim::{Damage, Metadata};

use crate::aof_model::AofModel;
use crate::catalog::{bounds, check, model, mutated, rewriting, Check, Mutant};
use crate::lies::Lies;
use crate::properties as p;

fn lying(lies: Lies, m: AofModel) -> AofModel {
    AofModel { lies, ..m }
}

const PER_DIR: Lies = Lies {
    metadata: Metadata::PerDirectory,
    damage: None,
    misdirect: false,
    held_as_honest: false,
};

fn damaged(damage: Damage) -> Lies {
    Lies {
        damage: Some(damage),
        ..Lies::default()
    }
}

pub fn checks() -> Vec<Check> {
    vec![
        check(
            "always-per-dir-rewrite",
            lying(
                PER_DIR,
                rewriting(FsyncPolicy::Always, bounds(1, 2, 1, 0, 0)),
            ),
        ),
        check(
            "always-per-dir-rotation",
            lying(PER_DIR, model(FsyncPolicy::Always, bounds(1, 2, 1, 1, 0))),
        ),
        check(
            "always-bit-flip",
            lying(
                damaged(Damage::Flip),
                model(FsyncPolicy::Always, bounds(1, 2, 1, 0, 0)),
            ),
        ),
        check(
            "everysec-flip-two-crashes",
            lying(
                damaged(Damage::Flip),
                model(FsyncPolicy::Everysec, bounds(1, 1, 2, 0, 0)),
            ),
        ),
        check(
            "everysec-garbage",
            lying(
                damaged(Damage::Garbage),
                model(FsyncPolicy::Everysec, bounds(1, 2, 1, 0, 1000)),
            ),
        ),
    ]
}

/// Lies under which a guarantee fails whatever the engine does: each must be caught, and
/// its counterexample is recorded in INVARIANTS.md.
pub fn violations() -> Vec<Mutant> {
    vec![
        Mutant {
            name: "skip-startup-seal",
            about: "start-up makes a last incr file whose checksum line a crash tore off durable \
                    without sealing it: a later flip in that record loads silently",
            breaks: p::DAMAGE_CAUGHT,
            model: lying(
                damaged(Damage::Flip),
                mutated(
                    Mutation::SkipStartupSeal,
                    FsyncPolicy::Everysec,
                    bounds(1, 1, 2, 0, 0),
                ),
            ),
        },
        Mutant {
            name: "damaged-manifest",
            about: "the disk flips a bit of the synced manifest: it no longer parses (start-up \
                    refuses it, naming the line)",
            breaks: p::MANIFEST_DURABLE,
            model: lying(
                Lies {
                    held_as_honest: true,
                    ..damaged(Damage::Flip)
                },
                model(FsyncPolicy::Always, bounds(1, 1, 1, 0, 0)),
            ),
        },
        Mutant {
            name: "misdirected-write",
            about:
                "the disk acknowledges a log append but writes it over the start of another file: \
                the acknowledged bytes were never on the disk",
            breaks: p::ACK_SURVIVES,
            model: lying(
                Lies {
                    misdirect: true,
                    ..Lies::default()
                },
                model(FsyncPolicy::Always, bounds(1, 1, 1, 0, 0)),
            ),
        },
    ]
}
