//! A real, throwaway PostgreSQL server for the tests: Debian's `postgresql`
//! package (installed with apt-get if its binaries are missing), a cluster
//! made by initdb in a temporary directory, a server on a free loopback port.
//! initdb and the server refuse to run as root, so as root they run as the
//! `postgres` user the package creates.
//!
//! Nothing here skips: if PostgreSQL cannot be installed or started, the test
//! that asked for it fails, saying why.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// A running server, stopped and deleted when dropped (or, for the shared
/// one, when the test process ends).
pub struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    pub port: u16,
}

/// The server every test of this process shares, each on its own database.
pub fn shared() -> &'static Postgres {
    static SHARED: OnceLock<Postgres> = OnceLock::new();
    SHARED.get_or_init(|| {
        let server = Postgres::start();
        server.stop_when_process_ends();
        server
    })
}

impl Postgres {
    /// Installs (if need be), creates and starts a new server.
    pub fn start() -> Postgres {
        let bin = binaries();
        let dir = tempfile::Builder::new().prefix("newsfeed-pg-").tempdir().unwrap().keep();
        if is_root() {
            let chown = Command::new("chown").arg("postgres").arg(&dir).status();
            assert!(chown.is_ok_and(|status| status.success()), "chown postgres {}", dir.display());
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let server = Postgres { bin, dir, port };
        server.run("initdb", |c| {
            c.arg("-D").arg(server.data()).args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8"])
        });
        server.up();
        server
    }

    /// The URL of a new, empty database on this server.
    pub fn new_database(&self) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!("t{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(&name)
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Runs one SQL command as the superuser on `database`; its rows, one
    /// a line, columns separated by `|`.
    pub fn psql(&self, database: &str, command: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres"])
            .args(["-p", &self.port.to_string(), "-d", database, "-c", command])
            .output()
            .expect("running psql");
        assert!(out.status.success(), "psql {command:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Starts the (stopped) server again, on the same port and data.
    pub fn up(&self) {
        let options = format!("-k {} -c listen_addresses=127.0.0.1 -p {}", self.dir.display(), self.port);
        let log = self.dir.join("server.log");
        self.run("pg_ctl", |c| c.arg("-D").arg(self.data()).arg("-l").arg(&log).args(["-w", "-o", &options, "start"]));
    }

    /// Stops the server at once, as a crash would (no checkpoint).
    pub fn down(&self) {
        self.run("pg_ctl", |c| c.arg("-D").arg(self.data()).args(["-w", "-m", "immediate", "stop"]));
    }

    /// Stops every process of the server (SIGSTOP), as a hung machine or
    /// a stalled disk would: connections are still accepted by the kernel,
    /// and nothing answers. [`Postgres::thaw`] resumes them.
    pub fn freeze(&self) {
        self.signal_all(libc::SIGSTOP);
    }

    /// Resumes the processes [`Postgres::freeze`] stopped (SIGCONT).
    pub fn thaw(&self) {
        self.signal_all(libc::SIGCONT);
    }

    /// Sends `signal` to the postmaster and to every process it started.
    fn signal_all(&self, signal: i32) {
        let pid_file = std::fs::read_to_string(self.data().join("postmaster.pid")).expect("the server is not running");
        let postmaster: i32 = pid_file.lines().next().and_then(|line| line.trim().parse().ok()).unwrap();
        let mut processes = vec![postmaster];
        processes.extend(children_of(postmaster));
        for pid in processes {
            // SAFETY: kill has no memory preconditions; the pids are the server's.
            unsafe { libc::kill(pid, signal) };
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Runs one of the server's programs as the data's owner.
    fn run(&self, program: &str, args: impl FnOnce(&mut Command) -> &mut Command) {
        let mut command = Command::new(self.bin.join(program));
        args(&mut command);
        let out = as_postgres_owner(&mut command);
        assert!(
            out.status.success(),
            "{program}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A watcher that stops the server and deletes it once this process has
    /// ended: a static is never dropped.
    #[allow(clippy::zombie_processes, reason = "the watcher outlives this process; nothing here waits for it")]
    fn stop_when_process_ends(&self) {
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop}; rm -rf {dir}",
            pid = std::process::id(),
            stop = self.stop_command(),
            dir = self.dir.display()
        );
        Command::new("sh").args(["-c", &script]).spawn().expect("starting the PostgreSQL reaper");
    }

    fn stop_command(&self) -> String {
        let pg_ctl = format!("{} -D {} -m immediate stop", self.bin.join("pg_ctl").display(), self.data().display());
        match is_root() {
            true => format!("runuser -u postgres -- {pg_ctl} >/dev/null 2>&1"),
            false => format!("{pg_ctl} >/dev/null 2>&1"),
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new("sh").args(["-c", &self.stop_command()]).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The processes whose parent is `parent`, from `/proc`.
fn children_of(parent: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| {
            let pid: i32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // `pid (comm) state ppid ...`: comm may hold spaces, so read after its `)`.
            let ppid: i32 = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == parent).then_some(pid)
        })
        .collect()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `command` as the `postgres` user when this process is root.
fn as_postgres_owner(command: &mut Command) -> std::process::Output {
    let mut wrapped;
    let command = match is_root() {
        true => {
            wrapped = Command::new("runuser");
            wrapped.args(["-u", "postgres", "--"]).arg(command.get_program()).args(command.get_args());
            if let Some(dir) = command.get_current_dir() {
                wrapped.current_dir(dir);
            }
            &mut wrapped
        }
        false => command,
    };
    command.output().unwrap_or_else(|e| panic!("running {:?}: {e}", command.get_program()))
}

/// The directory of the server's programs, installing Debian's
/// `postgresql` package first if there is none.
fn binaries() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = installed() {
            return bin;
        }
        eprintln!("PostgreSQL's server is not installed: apt-get install postgresql");
        let install = || {
            Command::new("apt-get")
                .args(["install", "-y", "-q", "postgresql"])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
                .is_ok_and(|status| status.success())
        };
        let updated = || Command::new("apt-get").args(["update", "-q"]).status().is_ok_and(|s| s.success());
        assert!(install() || (updated() && install()), "apt-get install postgresql failed: the tests need PostgreSQL");
        installed().expect("postgresql installed, but no initdb under /usr/lib/postgresql")
    })
    .clone()
}

/// The newest `/usr/lib/postgresql/<version>/bin` that has initdb.
fn installed() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            Path::new(&bin.join("initdb")).exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// `newsfeed up --as-spin -f spin-postgres.toml` on database `url`, as Spin
/// would run it: the variables from `SPIN_VARIABLE_*`, `db_host` being
/// `db_host` (the server's own address unless a test says otherwise).
pub fn spin_host(url: &str, db_host: &str) -> super::Host {
    spin_host_builder(url, db_host).start()
}

/// [`spin_host`], not yet started.
pub fn spin_host_builder(url: &str, db_host: &str) -> super::HostBuilder {
    super::Host::builder()
        .manifest("spin-postgres.toml")
        .flags(&["--as-spin"])
        .env("SPIN_VARIABLE_DB_URL", url)
        .env("SPIN_VARIABLE_DB_HOST", db_host)
}
