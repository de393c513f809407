//! The rehearsal's HTML report in a real browser: Debian's headless chromium loads the page
//! written for a hand-built report (a baseline, 0002's expand, 0004's expand, backfill and a
//! failed contract, a lock wait and a latency spike during 0004's expand, a failed rollback),
//! prints the DOM it built and takes a screenshot. Chromium is installed when it is missing;
//! when that fails the test fails and says how to install it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use concertina_runtime::rehearse::html::html;
use concertina_runtime::rehearse::report::{
    PhaseReport, RehearsalReport, Rollback, Sample, StretchStats, TableLoad,
};

const ERROR: &str = r#"<error & "quotes">"#;

fn phase(label: &str, app: &str, start: f64, seconds: f64) -> PhaseReport {
    let mut it = label.split(' ');
    let (version, phase) = match (it.next(), it.next()) {
        (Some(v), Some(p)) if v.starts_with('0') => (v[..4].to_string(), p.to_string()),
        _ => (String::new(), String::new()),
    };
    PhaseReport {
        label: label.into(),
        version,
        phase,
        app: app.into(),
        start,
        duration: Duration::from_secs_f64(seconds),
        extrapolated: Some(Duration::from_secs_f64(seconds * 10.0)),
        load: StretchStats {
            transactions: (seconds * 200.0) as u64,
            p50: Duration::from_micros(1_800),
            p99: Duration::from_micros(9_500),
            max: Duration::from_micros(24_000),
            longest_lock_wait: Duration::ZERO,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// 40 s of a workload at 200 tx/s in 0.1 s slices: 2–10 ms normally, slower during the
/// backfill, a lock wait building up to 1.6 s in 0004's expand then the transactions it held
/// finishing at 1.7 s, a few failed transactions in the backfill.
fn report() -> RehearsalReport {
    let mut baseline = phase("no migration (baseline)", "S(0001)", 0.0, 8.0);
    baseline.extrapolated = None;
    let e2 = phase("0002_add_email expand", "transition E(0002)", 8.0, 3.0);
    let mut e4 = phase("0004_rename_name expand", "transition E(0004)", 11.0, 6.0);
    e4.load.longest_lock_wait = Duration::from_millis(1_600);
    e4.load.p99 = Duration::from_millis(480);
    e4.load.max = Duration::from_millis(1_700);
    let mut b4 = phase(
        "0004_rename_name backfill",
        "transition E(0004)",
        17.0,
        18.0,
    );
    b4.load.p50 = Duration::from_micros(3_900);
    b4.load.p99 = Duration::from_millis(31);
    b4.load.max = Duration::from_millis(88);
    b4.load.failed = 3;
    b4.load.first_error = Some("deadlock detected (SQLSTATE 40P01)".into());
    let mut c4 = phase("0004_rename_name contract", "S(0004)", 35.0, 5.0);
    c4.error = Some(ERROR.into());
    c4.disagreements = vec!["plan says no lock, the server took ACCESS EXCLUSIVE on users".into()];
    let timeline = (0..400)
        .map(|i| {
            let t = i as f64 * 0.1;
            let mut s = Sample {
                t,
                transactions: 20,
                max_ms: 2.0 + ((i * 37) % 9) as f64,
                lock_wait_ms: 0.0,
                failed: 0,
            };
            if (130..146).contains(&i) {
                // Blocked behind the expand's lock: nothing finishes, the wait grows.
                s.transactions = 0;
                s.max_ms = 0.0;
                s.lock_wait_ms = (i - 129) as f64 * 100.0;
            } else if i == 146 {
                s.max_ms = 1_700.0;
                s.transactions = 340;
            } else if (170..350).contains(&i) {
                s.max_ms = 6.0 + ((i * 53) % 40) as f64;
                s.failed = u32::from(i == 201 || i == 260 || i == 261);
            }
            s
        })
        .collect();
    RehearsalReport {
        server: "PostgreSQL 16.4 (Debian 16.4-1.pgdg120+2)".into(),
        place: "a throwaway server on 127.0.0.1:54329".into(),
        dir: "migrations".into(),
        pending: vec!["0002_add_email".into(), "0004_rename_name".into()],
        scale: 0.1,
        rate: 200.0,
        clients: 8,
        lock_timeout: Duration::from_secs(2),
        loads: vec![
            TableLoad {
                table: "users".into(),
                rows: 120_000,
                seconds: 4.2,
                source: "statistics".into(),
            },
            TableLoad {
                table: "public.orders".into(),
                rows: 480_000,
                seconds: 13.9,
                source: "--rows".into(),
            },
        ],
        phases: vec![baseline, e2, e4, b4, c4],
        timeline,
        rollbacks: vec![
            Rollback {
                version: "0002".into(),
                ok: true,
                problems: vec![],
            },
            Rollback {
                version: "0004".into(),
                ok: false,
                problems: vec![
                    "column users.full_name is missing".into(),
                    "index users_name_idx differs: btree (name) vs btree (lower(name))".into(),
                ],
            },
        ],
        stopped: Some("0004_rename_name contract failed".into()),
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn apt_get(root: bool, args: &[&str]) -> bool {
    let mut cmd = if root {
        Command::new("apt-get")
    } else {
        let mut c = Command::new("sudo");
        c.args(["-n", "apt-get"]);
        c
    };
    cmd.args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Debian's chromium: on PATH, or installed with apt-get (as root, else with `sudo -n`).
/// Never skips: without a browser the test fails and says how to get one.
fn chromium() -> &'static Path {
    static CHROMIUM: OnceLock<PathBuf> = OnceLock::new();
    CHROMIUM.get_or_init(|| {
        if let Some(p) = on_path("chromium") {
            return p;
        }
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        eprintln!(
            "chromium is missing: installing it with apt-get (the HTML report's browser test)"
        );
        let install = ["install", "-y", "-qq", "chromium"];
        if !apt_get(root, &install) {
            apt_get(root, &["update", "-qq"]);
            apt_get(root, &install);
        }
        on_path("chromium").unwrap_or_else(|| {
            panic!(
                "the rehearsal report's browser test needs Debian's chromium, which is not \
                 installed and could not be installed here: run `apt-get install -y chromium` as \
                 root (or `.ci/run`, which installs it), then run this test again"
            )
        })
    })
}

/// Runs headless chromium on `page` with `args`; fails the test after two minutes.
fn run_chromium(page: &Path, profile: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let started = Instant::now();
    while child.try_wait().expect("wait for chromium").is_none() {
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("chromium {args:?} still runs after 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("chromium's output");
    assert!(
        out.status.success(),
        "chromium {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A fresh directory with the page written in it.
fn page(test: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("concertina-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rehearsal.html");
    std::fs::write(&file, html(&report())).unwrap();
    (dir, file)
}

/// The start tag of the element with `id`.
fn tag_with_id<'a>(dom: &'a str, id: &str) -> &'a str {
    let at = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no id={id} in {dom}"));
    let start = dom[..at].rfind('<').unwrap();
    let end = at + dom[at..].find('>').unwrap();
    &dom[start..=end]
}

/// The element with `id` up to its closing tag (elements of one name are not nested here).
fn element<'a>(dom: &'a str, id: &str) -> &'a str {
    let tag = tag_with_id(dom, id);
    let name = tag[1..].split([' ', '>']).next().unwrap();
    let start = dom.find(tag).unwrap();
    let end = start + dom[start..].find(&format!("</{name}>")).unwrap();
    &dom[start..end]
}

#[test]
fn chromium_builds_the_page_as_written() {
    let report = report();
    let source = html(&report);
    assert!(!source.contains("http://") && !source.contains("https://"));
    let (dir, file) = page("rehearse-html-dom");
    let out = run_chromium(&file, &dir.join("profile"), &["--dump-dom"]);
    let dom = String::from_utf8(out.stdout).expect("the DOM is UTF-8");

    let verdict = tag_with_id(&dom, "verdict");
    assert!(verdict.contains("class=\"failed\""), "{verdict}");
    let reasons = element(&dom, "verdict").matches("<li>").count();
    assert_eq!(
        reasons,
        report.failures().len(),
        "one list item per failure"
    );

    let phases = element(&dom, "phases");
    assert_eq!(phases.matches("<tr class=\"phase\"").count(), 5, "{phases}");
    for p in &report.phases {
        assert!(
            phases.contains(&p.label),
            "{} is not in the phases table",
            p.label
        );
    }
    assert!(
        phases.contains("full size s"),
        "scale 0.1: the full-size column is there"
    );

    // What the browser built: the escaped error is text again (the serializer escapes `<`, `&`
    // and `>` in text, never quotes), and no element was made of it.
    assert!(
        phases.contains(r#"the phase failed: &lt;error &amp; "quotes"&gt;"#),
        "{phases}"
    );
    assert!(!dom.contains("<error"), "the error became markup");

    let svg = element(&dom, "timeline");
    assert!(svg.starts_with("<svg"), "{svg}");
    assert_eq!(
        svg.matches("class=\"boundary\"").count(),
        5,
        "a boundary line per phase"
    );
    assert_eq!(
        svg.matches("class=\"boundary end\"").count(),
        1,
        "the last phase's end"
    );
    for p in &report.phases {
        assert!(
            svg.contains(&format!(">{}</text>", p.label)),
            "no label for {}",
            p.label
        );
    }
    let latency = svg.find("class=\"latency\"").expect("the latency series");
    let d = &svg[latency..svg[latency..].find('>').unwrap() + latency];
    // Two stretches: the lock wait breaks the line, the 384 other slices are points on it.
    assert_eq!(d.matches('M').count(), 2, "{d}");
    assert_eq!(d.matches('L').count(), 384 - 2, "{d}");
    let lock = element(&dom, "timeline");
    let lock = &lock[lock
        .find("class=\"lock-wait\"")
        .expect("the lock-wait series")..];
    assert_eq!(
        lock[..lock.find("</g>").unwrap()].matches("<rect").count(),
        16
    );
    assert!(svg.contains("class=\"lock-timeout\""));
    assert!(svg.contains("lock_timeout 2000 ms"));
    assert_eq!(svg.matches("app transaction failed</title>").count(), 3);

    let loads = element(&dom, "loads");
    assert!(
        loads.contains("public.orders") && loads.contains("--rows"),
        "{loads}"
    );
    let rollbacks = element(&dom, "rollbacks");
    assert!(
        rollbacks.contains(">FAILED<") && rollbacks.contains(">OK<"),
        "{rollbacks}"
    );
    assert!(rollbacks.contains("column users.full_name is missing"));
    assert!(element(&dom, "extrapolated").contains("total"));

    assert!(!dom.contains("<script"), "the page has no script");
    assert!(
        !dom.contains("http://") && !dom.contains("https://"),
        "the page loads nothing"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn chromium_screenshots_the_page() {
    let (dir, file) = page("rehearse-html-png");
    let png = dir.join("rehearsal.png");
    run_chromium(
        &file,
        &dir.join("profile"),
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1280,2000",
        ],
    );
    let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("no screenshot {png:?}: {e}"));
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!(&bytes[12..16], b"IHDR");
    assert_eq!((be(16), be(20)), (1280, 2000), "the screenshot's size");
    assert!(
        bytes.len() > 20_000,
        "a near-empty screenshot: {} bytes",
        bytes.len()
    );
    if let Some(keep) = std::env::var_os("CONCERTINA_KEEP_SCREENSHOT") {
        std::fs::copy(&png, keep).unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
