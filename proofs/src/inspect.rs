//! Reading a simulated disk the way an operator would: does the AOF directory hold data, and
//! does every manifest a crash could expose name only files that would be there, complete.

use model::aof::manifest::Manifest;
use model::aof::record::{self, Decoded};
use model::config::Config;
use model::io::join;
use model::keyspace::Keyspace;
use model::rdb;
use model::sim::SimDisk;

/// Whether any file in the AOF directory holds a write (an RDB key, or a command other than
/// SELECT; inside MULTI only once its EXEC is whole, as the loader rolls back an unfinished
/// block). Used to tell an empty start over nothing from an empty start over lost data.
pub fn aof_dir_has_data(disk: &SimDisk, config: &Config) -> bool {
    let prefix = format!("{}/", config.appenddirname);
    disk.paths()
        .iter()
        .filter(|p| p.starts_with(&prefix))
        .any(|p| {
            let bytes = disk.contents(p).unwrap_or_default();
            if bytes.starts_with(b"REDIS") {
                let mut ks = Keyspace::new(config.databases);
                let opts = rdb::LoadOptions {
                    now_ms: 0,
                    drop_expired: false,
                };
                return rdb::decode(bytes, &mut ks, &opts).map_or(true, |l| l.keys_loaded > 0);
            }
            has_write_record(bytes)
        })
}

fn has_write_record(mut bytes: &[u8]) -> bool {
    let (mut in_multi, mut writes_in_multi) = (false, false);
    loop {
        match record::decode(bytes) {
            Decoded::Command { argv, len } => {
                let name = &argv[0];
                if name.eq_ignore_ascii_case(b"MULTI") {
                    in_multi = true;
                } else if name.eq_ignore_ascii_case(b"EXEC") {
                    if writes_in_multi {
                        return true;
                    }
                    in_multi = false;
                } else if !name.eq_ignore_ascii_case(b"SELECT") {
                    if !in_multi {
                        return true;
                    }
                    writes_in_multi = true;
                }
                bytes = &bytes[len..];
            }
            Decoded::Annotation { len } => bytes = &bytes[len..],
            Decoded::Incomplete | Decoded::Corrupt { .. } => return false,
        }
    }
}

/// For every prefix of pending directory operations: a visible manifest is complete, parses,
/// and names only files present in the same view, its base complete.
pub fn manifest_names_durable_files(disk: &SimDisk, config: &Config) -> bool {
    let dir = &config.appenddirname;
    let manifest_path = join(
        dir,
        &model::aof::manifest::manifest_name(&config.appendfilename),
    );
    disk.crash_views().iter().all(|view| {
        let Some(file) = view.get(&manifest_path) else {
            return true;
        };
        if !file.complete {
            return false;
        }
        let Ok(manifest) = Manifest::parse(&file.durable) else {
            return false;
        };
        let base_ok = manifest
            .base
            .iter()
            .all(|b| view.get(&join(dir, &b.name)).is_some_and(|f| f.complete));
        base_ok
            && manifest
                .incrs
                .iter()
                .all(|i| view.contains_key(&join(dir, &i.name)))
    })
}

/// Starts an engine on `disk` and runs its start-up to the end, executing every effect at once.
/// The recovered data set, or `None` if start-up refused.
pub fn recover(disk: &SimDisk, config: &Config, now_ms: u64) -> Option<crate::reference::Data> {
    let mut disk = disk.clone();
    let mut engine = model::engine::Engine::new(config.clone(), now_ms);
    while *engine.phase() == model::engine::Phase::Loading {
        let effect = engine.poll_effect().expect("loading waits on an effect");
        let result = disk.execute(&effect.op);
        engine.handle_io(
            now_ms,
            model::io::IoDone {
                id: effect.id,
                result,
            },
        );
    }
    (*engine.phase() == model::engine::Phase::Running)
        .then(|| crate::reference::dump(engine.keyspace()))
}
