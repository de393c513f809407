//! A throwaway PostgreSQL for the demo and the benchmarks: `initdb` + `pg_ctl` in a temp dir,
//! on a free port of 127.0.0.1, stopped and removed when dropped. Binaries are found through
//! `pg_config --bindir`, then the usual Debian/RPM paths, then `PATH`. PostgreSQL refuses to
//! run as root, so as root the server runs as the `postgres` user (through `runuser`).

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("no PostgreSQL server binaries found (initdb, pg_ctl): install PostgreSQL (e.g. `apt-get install postgresql`) or set DATABASE_URL to use a running server")]
    NotFound,
    #[error("running as root, but there is no `postgres` user to run the server as: create it (`useradd -r postgres`) or set DATABASE_URL")]
    NoUser,
    #[error("{step} failed: {output}")]
    Failed { step: String, output: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub struct Server {
    dir: PathBuf,
    bindir: PathBuf,
    pub port: u16,
    as_user: Option<String>,
    /// Its entry in [`cleanup`](super::cleanup): stopped on Ctrl-C too.
    cleanup: u64,
}

fn find_bindir() -> Option<PathBuf> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        if out.status.success() {
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if dir.join("initdb").exists() && dir.join("pg_ctl").exists() {
                return Some(dir);
            }
        }
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .collect();
    candidates.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    candidates.reverse();
    candidates.extend(
        std::fs::read_dir("/usr")
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("pgsql"))
            .map(|e| e.path().join("bin")),
    );
    candidates.extend(
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .unwrap_or_default(),
    );
    candidates
        .into_iter()
        .find(|d| d.join("initdb").exists() && d.join("pg_ctl").exists())
}

/// Whether this process runs as root (neither server runs as root unless told to).
pub(super) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

pub(super) fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A new directory of its own in the temp dir for a throwaway server's files.
pub(super) fn scratch_dir(what: &str) -> std::io::Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let dir =
        std::env::temp_dir().join(format!("concertina-{what}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

impl Server {
    /// Initialises and starts a server; `on_step` hears what is happening.
    pub fn start(on_step: impl FnMut(&str)) -> Result<Server, ServerError> {
        Server::start_with(None, on_step)
    }

    /// Like [`Server::start`], with password (SCRAM) authentication over TCP for the
    /// `postgres` user when `password` is given.
    pub fn start_with(
        password: Option<&str>,
        on_step: impl FnMut(&str),
    ) -> Result<Server, ServerError> {
        let bindir = find_bindir().ok_or(ServerError::NotFound)?;
        Server::start_from(bindir, password, on_step)
    }

    /// A throwaway server from the binaries in `bindir` (`initdb`, `pg_ctl`, `postgres`): the
    /// version matrix's servers of every major.
    pub fn start_from(
        bindir: PathBuf,
        password: Option<&str>,
        mut on_step: impl FnMut(&str),
    ) -> Result<Server, ServerError> {
        let server = Server::prepare(bindir)?;
        on_step(&format!("initdb in {}", server.dir.display()));
        let data = server.dir.join("data");
        let mut initdb = server.command("initdb");
        initdb.arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
            "--locale=C",
        ]);
        match password {
            Some(pw) => {
                let pwfile = server.dir.join("pwfile");
                std::fs::write(&pwfile, pw)?;
                if let Some(user) = &server.as_user {
                    server.run("chown", Command::new("chown").arg(user).arg(&pwfile))?;
                }
                initdb
                    .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
                    .arg(format!("--pwfile={}", pwfile.display()));
            }
            None => {
                initdb.arg("--auth=trust");
            }
        }
        server.run("initdb", &mut initdb)?;
        server.start_data(&mut on_step)?;
        Ok(server)
    }

    /// A streaming standby of `primary` (same binaries): `pg_basebackup -R` of the running
    /// primary into a directory of its own, started on a port of its own as a hot standby.
    /// For tests of what the migrator does while a replica lags.
    pub fn standby_of(
        primary: &Server,
        mut on_step: impl FnMut(&str),
    ) -> Result<Server, ServerError> {
        let server = Server::prepare(primary.bindir.clone())?;
        on_step(&format!(
            "pg_basebackup of 127.0.0.1:{} into {}",
            primary.port,
            server.dir.display()
        ));
        let mut backup = server.command("pg_basebackup");
        backup
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &primary.port.to_string(),
                "-U",
                "postgres",
                "-D",
            ])
            .arg(server.dir.join("data"))
            .args(["-R", "-X", "stream", "--no-sync"]);
        server.run("pg_basebackup", &mut backup)?;
        server.start_data(&mut on_step)?;
        Ok(server)
    }

    /// A scratch directory (owned by `postgres` when running as root) and a free port.
    fn prepare(bindir: PathBuf) -> Result<Server, ServerError> {
        let as_user = if is_root() {
            let exists = Command::new("id")
                .arg("postgres")
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            if !exists {
                return Err(ServerError::NoUser);
            }
            Some("postgres".to_string())
        } else {
            None
        };
        let dir = scratch_dir("pg")?;
        let port = free_port()?;
        let cleanup = {
            let (dir, bindir, as_user) = (dir.clone(), bindir.clone(), as_user.clone());
            super::cleanup::register(Box::new(move || stop(&dir, &bindir, as_user.as_deref())))
        };
        let server = Server {
            dir,
            bindir,
            port,
            as_user,
            cleanup,
        };
        if let Some(user) = &server.as_user {
            server.run(
                "chown",
                Command::new("chown").arg("-R").arg(user).arg(&server.dir),
            )?;
        }
        Ok(server)
    }

    /// Starts the server on `dir/data`.
    fn start_data(&self, on_step: &mut dyn FnMut(&str)) -> Result<(), ServerError> {
        let port = self.port;
        on_step(&format!("starting PostgreSQL on 127.0.0.1:{port}"));
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50 -c shared_buffers=256MB",
            self.dir.display()
        );
        let mut start = self.command("pg_ctl");
        start
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-o")
            .arg(options)
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "-t", "60", "start"]);
        self.run("pg_ctl start", &mut start)
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn command(&self, program: &str) -> Command {
        command(&self.bindir, self.as_user.as_deref(), program)
    }

    fn run(&self, step: &str, cmd: &mut Command) -> Result<(), ServerError> {
        let out = cmd.output()?;
        if out.status.success() {
            Ok(())
        } else {
            let mut output = String::from_utf8_lossy(&out.stderr).trim().to_string();
            if output.is_empty() {
                output = String::from_utf8_lossy(&out.stdout).trim().to_string();
            }
            Err(ServerError::Failed {
                step: step.into(),
                output: output.replace('\n', " "),
            })
        }
    }
}

/// A server binary, run as the server's user when it has one.
fn command(bindir: &Path, as_user: Option<&str>, program: &str) -> Command {
    let exe = bindir.join(program);
    match as_user {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.arg("-u").arg(user).arg("--").arg(exe);
            c
        }
        None => Command::new(exe),
    }
}

/// Stops the server and removes its files.
fn stop(dir: &Path, bindir: &Path, as_user: Option<&str>) {
    let mut stop = command(bindir, as_user, "pg_ctl");
    stop.arg("-D")
        .arg(dir.join("data"))
        .args(["-m", "immediate", "-w", "stop"]);
    let _ = stop.output();
    let _ = std::fs::remove_dir_all(dir);
}

impl Drop for Server {
    fn drop(&mut self) {
        super::cleanup::unregister(self.cleanup);
        stop(&self.dir, &self.bindir, self.as_user.as_deref());
    }
}
