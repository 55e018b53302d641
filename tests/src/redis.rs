//! A real `redis-server` 7.0 beside durakv: the reference peer of the interoperability tests.
//!
//! Owns starting one on 127.0.0.1 at a free port in a given directory and stopping it.
//! Invariant: the process is killed with SIGKILL when its handle drops, so a failing test
//! never leaves a Redis behind; a test calls [`have_redis`] first and passes with a note when
//! Redis is not installed (`.ci/run` installs it, so CI always runs them).

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use model::resp::Frame;

use crate::server::free_port;
use crate::RespClient;

/// Longest we wait for Redis to become ready or to exit.
const WAIT: Duration = Duration::from_secs(30);

pub fn have_redis() -> bool {
    let found = ["redis-server", "redis-check-aof"].iter().all(|tool| {
        Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    });
    if !found {
        println!(
            "note: redis-server or redis-check-aof is not installed; skipping \
             (apt-get install redis-server redis-tools)"
        );
    }
    found
}

/// Whether `binary --version` runs; if not, says which Debian package to install and the
/// caller's test passes with that note (`.ci/run` installs them, so CI always runs it).
pub fn have_tool(binary: &str, package: &str) -> bool {
    let found = Command::new(binary)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        println!("note: {binary} is not installed; skipping (apt-get install {package})");
    }
    found
}

/// A real `redis-server` on 127.0.0.1, killed with SIGKILL when dropped.
pub struct Redis {
    child: Option<Child>,
    port: u16,
    log: std::path::PathBuf,
    _log_dir: tempfile::TempDir,
}

impl Redis {
    pub fn start(dir: &Path, args: &[&str]) -> Redis {
        let log_dir = tempfile::tempdir().unwrap();
        let log = log_dir.path().join("redis.log");
        for attempt in 0..5 {
            let port = free_port();
            let child = Command::new("redis-server")
                .arg("--port")
                .arg(port.to_string())
                .arg("--bind")
                .arg("127.0.0.1")
                .arg("--dir")
                .arg(dir)
                .args(args)
                .stdin(Stdio::null())
                .stdout(File::create(&log).unwrap())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-server");
            let mut redis = Redis {
                child: Some(child),
                port,
                log: log.clone(),
                _log_dir: tempfile::tempdir().unwrap(),
            };
            match redis.wait_ready() {
                Ok(()) => {
                    redis._log_dir = log_dir;
                    return redis;
                }
                Err(text) if attempt < 4 && text.contains("Address already in use") => continue,
                Err(text) => panic!("redis-server did not start:\n{text}"),
            }
        }
        unreachable!("the loop returns or panics on its last attempt")
    }

    /// Until PING answers PONG (not -LOADING); `Err(log)` if the process exits first.
    pub fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(mut con) = RespClient::connect(self.port) {
                if matches!(con.call_str(&["PING"]), Ok(Frame::Simple(ref s)) if s == "PONG") {
                    return Ok(());
                }
            }
            let child = self.child.as_mut().expect("running");
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return Err(format!("exited with {status}:\n{}", self.log_text()));
            }
            assert!(
                Instant::now() < deadline,
                "redis not ready:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn client(&self) -> RespClient {
        RespClient::connect(self.port).expect("connect to redis")
    }

    /// SHUTDOWN, then waits (bounded) for the process to exit.
    pub fn shutdown(&mut self) {
        let mut con = self.client();
        let _ = con.call_str(&["SHUTDOWN"]);
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "redis exit {status}:\n{}",
                    self.log_text()
                );
                return;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("redis did not shut down:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs Redis's file checker `tool` (`redis-check-rdb`, `redis-check-aof`) on `path` and
/// fails the test unless it exits 0 and prints `expected`.
pub fn check_tool(tool: &str, path: &Path, expected: &str) {
    let output = Command::new(tool)
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("run the checker");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && text.contains(expected),
        "{tool} refused {}:\n{text}",
        path.display()
    );
}
