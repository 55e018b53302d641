//! [`ServerProcess`]: one server process in a directory, started on a free port on 127.0.0.1,
//! with its stderr captured; kill -9, graceful stop, restart.
//!
//! Invariant: the process is killed with SIGKILL when the handle drops, whatever the test did;
//! every wait is bounded.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::client::RespClient;

/// Longest a server may take to become ready (a debug build loading a large AOF).
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest a graceful stop may take.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// The line both durakv and Redis print once they serve clients.
const READY_LINE: &str = "Ready to accept connections";

/// A server that exited before it became ready.
#[derive(Debug)]
pub struct Exited {
    pub status: ExitStatus,
    pub stderr: String,
}

pub struct ServerProcess {
    binary: PathBuf,
    /// A config file given first on the command line, as `redis-server file.conf --port …`.
    config_file: Option<PathBuf>,
    dir: PathBuf,
    args: Vec<String>,
    port: u16,
    child: Option<Child>,
    log: Arc<Mutex<Vec<String>>>,
    /// Threads copying the process's stderr and stdout (real Redis logs to stdout) into `log`.
    readers: Vec<JoinHandle<()>>,
}

impl ServerProcess {
    /// The binary under test: `$DURAKV_SERVER`, else `durakv-under-test` beside the test binary.
    pub fn binary() -> PathBuf {
        if let Some(path) = std::env::var_os("DURAKV_SERVER") {
            return PathBuf::from(path);
        }
        // Test binaries live in target/<profile>/deps; the package's bins one level up.
        let exe = std::env::current_exe().expect("current exe");
        let profile = exe.parent().and_then(Path::parent).expect("target dir");
        profile.join("durakv-under-test")
    }

    /// Starts a server in `dir` with extra `args`, waits until it is ready; panics if it
    /// exits first.
    pub fn start(dir: &Path, args: &[&str]) -> Self {
        match Self::try_start(dir, args) {
            Ok(server) => server,
            Err(exited) => panic!(
                "server exited with {} before ready:\n{}",
                exited.status, exited.stderr
            ),
        }
    }

    /// Starts a server; `Err` with its status and stderr if it exits before it is ready.
    pub fn try_start(dir: &Path, args: &[&str]) -> Result<Self, Exited> {
        Self::try_start_binary(&Self::binary(), dir, args)
    }

    /// Starts `binary` (durakv or a real `redis-server`, which takes the same arguments and
    /// prints the same ready line) in `dir`; panics if it exits before it is ready.
    pub fn start_binary(binary: &Path, dir: &Path, args: &[&str]) -> Self {
        Self::try_start_binary(binary, dir, args).unwrap_or_else(|exited| {
            panic!(
                "{binary:?} exited with {} before ready:\n{}",
                exited.status, exited.stderr
            )
        })
    }

    /// Starts `binary`; `Err` with its status and output if it exits before it is ready.
    pub fn try_start_binary(binary: &Path, dir: &Path, args: &[&str]) -> Result<Self, Exited> {
        let mut server = ServerProcess {
            binary: binary.to_path_buf(),
            config_file: None,
            dir: dir.to_path_buf(),
            args: args.iter().map(|a| a.to_string()).collect(),
            port: 0,
            child: None,
            log: Arc::new(Mutex::new(Vec::new())),
            readers: Vec::new(),
        };
        server.launch()?;
        Ok(server)
    }

    /// Starts the server under test with `config_file` first on its command line.
    pub fn start_with_config(config_file: &Path, dir: &Path, args: &[&str]) -> Self {
        let mut server = ServerProcess {
            binary: Self::binary(),
            config_file: Some(config_file.to_path_buf()),
            dir: dir.to_path_buf(),
            args: args.iter().map(|a| a.to_string()).collect(),
            port: 0,
            child: None,
            log: Arc::new(Mutex::new(Vec::new())),
            readers: Vec::new(),
        };
        if let Err(exited) = server.launch() {
            panic!("server exited with {}:\n{}", exited.status, exited.stderr);
        }
        server
    }

    /// Starts the process again (same dir and arguments) after a kill or stop.
    pub fn restart(&mut self) -> Result<(), Exited> {
        assert!(self.child.is_none(), "restart of a running server");
        self.launch()
    }

    /// Starts the process again on the port it had, for peers that know it by address (a
    /// proxy's server list, a replica's master): retries while the old socket is still bound.
    pub fn restart_same_port(&mut self) -> Result<(), Exited> {
        assert!(self.child.is_none(), "restart of a running server");
        for attempt in 0..20 {
            self.spawn();
            match self.wait_ready() {
                Ok(()) => return Ok(()),
                Err(exited) if attempt < 19 && exited.stderr.contains("Address already in use") => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(exited) => return Err(exited),
            }
        }
        unreachable!("the loop returns on its last attempt")
    }

    fn launch(&mut self) -> Result<(), Exited> {
        // A free port can be taken between our probe and the server's bind: retry a few times.
        for attempt in 0..5 {
            self.port = free_port();
            self.spawn();
            match self.wait_ready() {
                Ok(()) => return Ok(()),
                Err(exited) if attempt < 4 && exited.stderr.contains("Address already in use") => {
                    continue
                }
                Err(exited) => return Err(exited),
            }
        }
        unreachable!("the loop returns on its last attempt")
    }

    fn spawn(&mut self) {
        let mut command = Command::new(&self.binary);
        command.args(&self.config_file);
        command
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {:?}: {e}", self.binary));
        self.log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        let stdout = child.stdout.take().expect("piped stdout");
        self.readers = vec![
            copy_lines(stderr, self.log.clone()),
            copy_lines(stdout, self.log.clone()),
        ];
        self.child = Some(child);
    }

    fn wait_ready(&mut self) -> Result<(), Exited> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if self
                .log
                .lock()
                .expect("log lock")
                .iter()
                .any(|l| l.contains(READY_LINE))
            {
                return Ok(());
            }
            let child = self.child.as_mut().expect("spawned");
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                self.join_reader();
                return Err(Exited {
                    status,
                    stderr: self.stderr(),
                });
            }
            assert!(
                Instant::now() < deadline,
                "server not ready after {READY_TIMEOUT:?}:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn join_reader(&mut self) {
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// A new connection to the server.
    pub fn client(&self) -> RespClient {
        RespClient::connect(self.port).expect("connect to server")
    }

    /// Everything the current (or last) process printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.log.lock().expect("log lock").join("\n")
    }

    /// SIGKILL, as a crash: no shutdown code runs.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.join_reader();
    }

    /// SIGTERM, then waits for the exit; kills and panics if it takes longer than the limit.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server running");
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM failed");
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.join_reader();
                return status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "server did not stop within {STOP_TIMEOUT:?}:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits for the process to exit on its own (after SHUTDOWN), at most [`STOP_TIMEOUT`].
    pub fn wait_exit(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server running");
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.join_reader();
                return status;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "server did not exit within {STOP_TIMEOUT:?}:\n{}",
            self.stderr()
        );
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Copies the lines of a child's pipe into `log` until the pipe closes (echoed with
/// `DURAKV_TEST_ECHO` set).
fn copy_lines(
    pipe: impl std::io::Read + Send + 'static,
    log: Arc<Mutex<Vec<String>>>,
) -> JoinHandle<()> {
    let echo = std::env::var_os("DURAKV_TEST_ECHO").is_some();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if echo {
                eprintln!("[server] {line}");
            }
            log.lock().expect("log lock").push(line);
        }
    })
}

/// A port the OS just handed out on 127.0.0.1 (free unless someone takes it meanwhile).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind probe");
    listener.local_addr().expect("probe address").port()
}
