//! Client compatibility: the client libraries applications use, with their default settings,
//! against durakv and against real `redis-server` 7.0 as the control.
//!
//! Goal: what an application does through redis-py, node-redis, ioredis or the `redis` crate —
//! connect with nothing but host and port, SET/GET, a 100-command pipeline, MULTI/EXEC with
//! WATCH, a Lua script through the library's script helper, INFO read with the library's
//! parser — works against durakv as it does against Redis; redis-py and node-redis also with
//! an explicit `protocol=2|3` / `RESP: 2|3`.
//!
//! Invariant kept: every case must pass against `redis-server` (which proves the case itself is
//! right); against durakv every case passes except those [`DURAKV_GAPS`] names, and each of
//! those must still run and fail with the gap's own error — so closing a gap fails this test
//! until its entry is removed, and no gap hides a different failure.
//!
//! Clients: the scripts in `tests/clients/` (versions pinned in `requirements.txt` and
//! `package-lock.json`), run with `$DURAKV_CLIENTS_PYTHON` (else `target/clients-venv`, which
//! `.ci/run` fills) and `$DURAKV_CLIENTS_NODE` (else `node`, with `tests/clients/node_modules`
//! from `npm ci`). A missing toolchain skips that client with a loud note, unless
//! `DURAKV_CLIENTS_REQUIRED=1` (set by `.ci/run`) makes it a failure.

#[path = "client_compat/rust_crate.rs"]
mod rust_crate;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use durakv_tests::ServerProcess;

/// durakv's known gaps, the one place to edit as features land: (`client/case` pattern, text
/// the failure must contain). `*` matches any client or case; `redis-py` means the default
/// settings, `redis-py:resp3` the explicit mode.
const DURAKV_GAPS: &[(&str, &str)] = &[
    // None: every client passes every case with its defaults, RESP2 and RESP3 (HELLO 3 and
    // scripting closed the last ones). A new gap goes here with the error it must fail with.
];

/// Longest one client run may take before it is killed and counted as failed.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// The library a client configuration uses.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Library {
    RedisPy,
    NodeRedis,
    Ioredis,
    RustCrate,
}

/// One client configuration: a library and its protocol mode ("default", "2" or "3").
#[derive(Clone, Copy)]
struct Client {
    library: Library,
    mode: &'static str,
}

impl Client {
    const fn new(library: Library, mode: &'static str) -> Client {
        Client { library, mode }
    }

    /// `redis-py` for the defaults, `redis-py:resp3` for an explicit protocol.
    fn label(self) -> String {
        let name = match self.library {
            Library::RedisPy => "redis-py",
            Library::NodeRedis => "node-redis",
            Library::Ioredis => "ioredis",
            Library::RustCrate => "rust-redis",
        };
        match self.mode {
            "default" => name.to_string(),
            mode => format!("{name}:resp{mode}"),
        }
    }
}

/// Every library with its default settings.
const DEFAULTS: [Client; 4] = [
    Client::new(Library::RedisPy, "default"),
    Client::new(Library::NodeRedis, "default"),
    Client::new(Library::Ioredis, "default"),
    Client::new(Library::RustCrate, "default"),
];

/// redis-py and node-redis told which protocol to speak.
const EXPLICIT: [Client; 4] = [
    Client::new(Library::RedisPy, "2"),
    Client::new(Library::RedisPy, "3"),
    Client::new(Library::NodeRedis, "2"),
    Client::new(Library::NodeRedis, "3"),
];

const ALL_CASES: [&str; 5] = ["basic", "pipeline", "transaction", "script", "info"];

#[test]
fn connect_and_basic_commands() {
    check(&DEFAULTS, &["basic"]);
}

#[test]
fn pipeline_of_100_commands() {
    check(&DEFAULTS, &["pipeline"]);
}

#[test]
fn multi_exec_transaction_and_watch() {
    check(&DEFAULTS, &["transaction"]);
}

#[test]
fn lua_script_eval_evalsha_and_helper() {
    check(&DEFAULTS, &["script"]);
}

#[test]
fn info_through_the_library_parser() {
    check(&DEFAULTS, &["info"]);
}

#[test]
fn resp3_and_resp2_explicit_modes() {
    check(&EXPLICIT, &ALL_CASES);
}

/// Runs every case with every available client against Redis (when installed) and durakv, each
/// server fresh for this test, and panics listing every broken expectation.
fn check(clients: &[Client], cases: &[&str]) {
    let required = std::env::var_os("DURAKV_CLIENTS_REQUIRED").is_some_and(|v| v == "1");
    let available: Vec<Client> = clients
        .iter()
        .copied()
        .filter(|c| toolchain_ready(c.library, required))
        .collect();
    let redis = redis_server(required);
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let save = ["--save", ""];
    let durakv = ServerProcess::start(dirs.0.path(), &save);
    let control = redis.map(|bin| ServerProcess::start_binary(&bin, dirs.1.path(), &save));
    let mut broken = Vec::new();
    for client in &available {
        for case in cases {
            let what = format!("{}/{case}", client.label());
            if let Some(control) = &control {
                if let Err(output) = run(*client, control.port(), case) {
                    broken.push(format!("{what} fails against redis-server:\n{output}"));
                }
            }
            let outcome = run(*client, durakv.port(), case);
            if let Some(problem) = judge_durakv(&what, outcome) {
                broken.push(problem);
            }
        }
    }
    assert!(broken.is_empty(), "\n{}", broken.join("\n\n"));
}

/// What is wrong with durakv's outcome for `what` ("client/case"), if anything.
fn judge_durakv(what: &str, outcome: Result<String, String>) -> Option<String> {
    let markers: Vec<&str> = DURAKV_GAPS
        .iter()
        .filter(|(pattern, _)| gap_matches(pattern, what))
        .map(|&(_, marker)| marker)
        .collect();
    match (outcome, markers.is_empty()) {
        (Ok(_), true) => None,
        (Err(output), true) => Some(format!("{what} fails against durakv:\n{output}")),
        (Ok(output), false) => Some(format!(
            "{what} now PASSES against durakv: the gap is closed, remove its entry from \
             DURAKV_GAPS in tests/tests/client_compat.rs\n{output}"
        )),
        (Err(output), false) if markers.iter().any(|m| output.contains(m)) => {
            println!(
                "known gap {what}: fails as expected ({})",
                markers.join(" | ")
            );
            None
        }
        (Err(output), false) => Some(format!(
            "{what} is a known gap expected to fail with {markers:?}, but failed otherwise:\n\
             {output}"
        )),
    }
}

/// Whether a `client/case` pattern (with `*` for either side) names `what`.
fn gap_matches(pattern: &str, what: &str) -> bool {
    let (pattern_client, pattern_case) = pattern.split_once('/').expect("pattern is client/case");
    let (client, case) = what.split_once('/').expect("what is client/case");
    (pattern_client == "*" || pattern_client == client)
        && (pattern_case == "*" || pattern_case == case)
}

/// One client run: `Ok(output)` when every check of the case held, `Err(output)` otherwise.
fn run(client: Client, port: u16, case: &str) -> Result<String, String> {
    let port_arg = port.to_string();
    let mut command = match client.library {
        Library::RustCrate => return rust_crate::run(port, case),
        Library::RedisPy => Command::new(python()),
        Library::NodeRedis | Library::Ioredis => Command::new(node()),
    };
    match client.library {
        Library::RedisPy => command.arg(clients_dir().join("redis_py_client.py")),
        _ => command.arg(clients_dir().join("node_client.js")).arg(
            if client.library == Library::Ioredis {
                "ioredis"
            } else {
                "node-redis"
            },
        ),
    };
    command.args([port_arg.as_str(), client.mode, case]);
    run_bounded(command)
}

/// Runs a client process with stdout and stderr in one file, killed after [`CLIENT_TIMEOUT`].
fn run_bounded(mut command: Command) -> Result<String, String> {
    let log = tempfile::NamedTempFile::new().expect("client log");
    let out = File::options().append(true).open(log.path()).unwrap();
    command
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let output = std::fs::read_to_string(log.path()).unwrap_or_default();
    match status {
        Some(status) if status.success() => Ok(output),
        Some(status) => Err(format!("{output}[{status}]")),
        None => Err(format!("{output}[killed after {CLIENT_TIMEOUT:?}]")),
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn clients_dir() -> PathBuf {
    repo_root().join("tests").join("clients")
}

fn python() -> PathBuf {
    std::env::var_os("DURAKV_CLIENTS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/clients-venv/bin/python"))
}

fn node() -> PathBuf {
    std::env::var_os("DURAKV_CLIENTS_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("node"))
}

/// Whether the library can run here; if not, a loud note, or a panic when clients are required.
fn toolchain_ready(library: Library, required: bool) -> bool {
    let (probe, hint) = match library {
        Library::RustCrate => return true,
        Library::RedisPy => (
            Command::new(python()).args(["-c", "import redis"]).output(),
            "python3 -m venv target/clients-venv && \
             target/clients-venv/bin/pip install -r tests/clients/requirements.txt",
        ),
        Library::NodeRedis | Library::Ioredis => (
            Command::new(node())
                .current_dir(clients_dir())
                .args(["-e", "require('redis'); require('ioredis')"])
                .output(),
            "npm ci --prefix tests/clients",
        ),
    };
    if probe.is_ok_and(|o| o.status.success()) {
        return true;
    }
    let name = Client::new(library, "default").label();
    assert!(
        !required,
        "{name} is not installed ({hint}); DURAKV_CLIENTS_REQUIRED=1"
    );
    shout(&format!(
        "SKIPPING {name}: not installed. Install with: {hint}"
    ));
    false
}

/// `redis-server` when installed (a note, or a panic when clients are required, if not).
fn redis_server(required: bool) -> Option<PathBuf> {
    let found = Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some(PathBuf::from("redis-server"));
    }
    assert!(
        !required,
        "redis-server is not installed; DURAKV_CLIENTS_REQUIRED=1"
    );
    shout("no redis-server: the control runs are SKIPPED (apt-get install redis-server)");
    None
}

/// A note on the real stderr, past the test harness's capture, so a skip is seen in a
/// passing run.
fn shout(note: &str) {
    let _ = writeln!(std::io::stderr(), "\n*** {note} ***\n");
}
