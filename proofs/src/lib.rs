//! durakv-proofs: the model checker's view of the durakv engine.
//!
//! The stateright model (`aof_model`) drives the production engine from `durakv-model` over
//! `SimDisk`, a disk that loses un-synced data, tears tails and forgets un-synced renames. The
//! properties (`properties`) are the durability contract in the README's words; the catalog
//! (`catalog`) lists the bounded configurations checked and the known-bad designs that must be
//! caught. The replication model (`repl_model`, `repl_link`, `repl_properties`) runs a master
//! engine and a replica engine joined by a link that breaks, with crashes and a failover.
//! `durakv-check` (src/bin/check.rs) runs them.

pub mod aof_model;
pub mod catalog;
pub mod clients;
pub mod doc;
pub mod families;
pub mod faults;
pub mod findings;
pub mod inspect;
pub mod judge;
pub mod lies;
pub mod operator;
pub mod properties;
pub mod reference;
pub mod repl_link;
pub mod repl_model;
pub mod repl_properties;
pub mod runner;
pub mod trace;
pub mod weak_disk;
