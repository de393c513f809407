//! A throwaway MariaDB for the demo: `mariadb-install-db` and `mariadbd` in a temp dir, on a
//! free port of 127.0.0.1 with root and no password, stopped and removed when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::mysql::MysqlConnection;
use diesel::Connection;

use super::server::{free_port, is_root, scratch_dir, ServerError};

pub struct MariaDbServer {
    dir: PathBuf,
    child: Child,
    pub port: u16,
    /// Its entry in [`cleanup`](super::cleanup): stopped on Ctrl-C too.
    cleanup: u64,
}

fn find(names: &[&str]) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"].map(PathBuf::from));
    names
        .iter()
        .flat_map(|n| dirs.iter().map(move |d| d.join(n)))
        .find(|p| p.exists())
}

impl MariaDbServer {
    pub fn start(on_step: impl FnMut(&str)) -> Result<MariaDbServer, ServerError> {
        Self::start_as(&["--skip-log-bin"], on_step)
    }

    /// A primary: binary log on (row format), server id 1.
    pub fn primary(on_step: impl FnMut(&str)) -> Result<MariaDbServer, ServerError> {
        Self::start_as(
            &["--log-bin=binlog", "--binlog-format=ROW", "--server-id=1"],
            on_step,
        )
    }

    /// A replica of `primary` (server id 2), replicating from the primary's first binary log
    /// on, running once this returns.
    pub fn replica_of(
        primary: &MariaDbServer,
        mut on_step: impl FnMut(&str),
    ) -> Result<MariaDbServer, ServerError> {
        use diesel::connection::SimpleConnection;
        let replica = Self::start_as(&["--skip-log-bin", "--server-id=2"], &mut on_step)?;
        on_step(&format!("replicating from 127.0.0.1:{}", primary.port));
        let failed = |e: diesel::result::Error| ServerError::Failed {
            step: "starting replication".into(),
            output: e.to_string(),
        };
        let mut conn =
            MysqlConnection::establish(&replica.url("mysql")).map_err(|e| ServerError::Failed {
                step: "connecting to the replica".into(),
                output: e.to_string(),
            })?;
        conn.batch_execute(&format!(
            "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {}, MASTER_USER = 'root', MASTER_PASSWORD = '', MASTER_LOG_FILE = 'binlog.000001', MASTER_LOG_POS = 4; START SLAVE",
            primary.port
        ))
        .map_err(failed)?;
        Ok(replica)
    }

    fn start_as(
        options: &[&str],
        mut on_step: impl FnMut(&str),
    ) -> Result<MariaDbServer, ServerError> {
        let not_found = || {
            ServerError::Failed {
            step: "finding MariaDB".into(),
            output: "no mariadb-install-db / mariadbd: install MariaDB (`apt-get install mariadb-server`) or set DATABASE_URL to a running server".into(),
        }
        };
        let install = find(&["mariadb-install-db", "mysql_install_db"]).ok_or_else(not_found)?;
        let server = find(&["mariadbd", "mysqld"]).ok_or_else(not_found)?;
        let dir = scratch_dir("mariadb")?;
        let data = dir.join("data");
        let port = free_port()?;
        // mariadbd refuses to run as root unless told to.
        let user: Vec<String> = if is_root() {
            vec!["--user=root".into()]
        } else {
            Vec::new()
        };
        on_step(&format!("mariadb-install-db in {}", dir.display()));
        let out = Command::new(&install)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .args(&user)
            .output()?;
        if !out.status.success() {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(ServerError::Failed {
                step: "mariadb-install-db".into(),
                output: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        let log = std::fs::File::create(dir.join("server.log"))?;
        let child = Command::new(&server)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", dir.join("sock").display()))
            .arg(format!("--pid-file={}", dir.join("pid").display()))
            .arg(format!("--port={port}"))
            .args(["--bind-address=127.0.0.1", "--skip-name-resolve"])
            .args(options)
            .args(&user)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        let cleanup = {
            let (pid, dir) = (child.id(), dir.clone());
            super::cleanup::register(Box::new(move || {
                // SIGTERM, a few seconds for the clean shutdown, then the files go.
                let _ = Command::new("kill")
                    .arg("-TERM")
                    .arg(pid.to_string())
                    .status();
                let deadline = Instant::now() + Duration::from_secs(10);
                while Instant::now() < deadline && alive(pid) {
                    std::thread::sleep(Duration::from_millis(100));
                }
                let _ = std::fs::remove_dir_all(&dir);
            }))
        };
        let server = MariaDbServer {
            dir,
            child,
            port,
            cleanup,
        };
        on_step(&format!("mariadbd on 127.0.0.1:{port}"));
        let deadline = Instant::now() + Duration::from_secs(60);
        while MysqlConnection::establish(&server.url("mysql")).is_err() {
            if Instant::now() > deadline {
                let log =
                    std::fs::read_to_string(server.dir.join("server.log")).unwrap_or_default();
                return Err(ServerError::Failed {
                    step: "starting mariadbd".into(),
                    output: log.lines().rev().take(5).collect::<Vec<_>>().join(" | "),
                });
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(server)
    }

    pub fn url(&self, database: &str) -> String {
        format!("mysql://root@127.0.0.1:{}/{database}", self.port)
    }
}

/// The process runs (a zombie, ended but not yet waited for, does not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

impl Drop for MariaDbServer {
    fn drop(&mut self) {
        super::cleanup::unregister(self.cleanup);
        // SIGTERM: a clean shutdown, then the files go.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
