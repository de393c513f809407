//! Ctrl-C or SIGTERM during `migrate demo` without DATABASE_URL: the throwaway PostgreSQL it
//! started is stopped and its files removed, and the command exits with 130 (before, the
//! server kept running on its port and its directory stayed in the temp dir).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[test]
fn sigterm_during_the_demo_stops_its_throwaway_server_and_removes_its_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["migrate", "demo"])
        .current_dir(&root)
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the demo starts");
    let (tx, rx) = mpsc::channel::<String>();
    let stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let (mut dir, mut port): (Option<PathBuf>, Option<u16>) = (None, None);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    // Up to the first step after the server accepts connections.
    while Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) else {
            continue;
        };
        seen.push(line.clone());
        if let Some(d) = line.strip_prefix("demo: initdb in ") {
            dir = Some(PathBuf::from(d.trim()));
        } else if let Some(p) = line.strip_prefix("demo: starting PostgreSQL on 127.0.0.1:") {
            port = p.trim().parse().ok();
        } else if port.is_some() && line.starts_with("demo: ") {
            break;
        }
    }
    let (Some(dir), Some(port)) = (dir, port) else {
        let _ = child.kill();
        panic!("the demo did not start its server: {seen:?}");
    };
    assert!(dir.exists(), "{}", dir.display());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());

    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .expect("kill runs");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let code = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the demo did not exit within 60 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = reader.join();
    let said: Vec<String> = rx.try_iter().collect();
    assert_eq!(code, Some(130), "{said:?}");
    assert!(
        said.iter()
            .any(|l| l.contains("interrupted: stopping the throwaway servers")),
        "{said:?}"
    );
    assert!(!dir.exists(), "{} is left behind", dir.display());
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server still listens on {port}"
    );
}
