//! concertina's core, shared by the derive and the CLI so the two can never disagree:
//! migration files → statements with spans → a schema model per version → checks → diagnostics.
//!
//! ```no_run
//! let project = concertina_codegen::Project::load(std::path::Path::new("migrations"))?;
//! let report = project.check();
//! for d in &report.diagnostics {
//!     eprintln!("{}[{}]: {}", d.severity.as_str(), d.rule, d.message);
//! }
//! # Ok::<(), concertina_codegen::LoadError>(())
//! ```

pub mod change;
pub mod check;
pub mod config;
pub mod derive;
pub mod diag;
pub mod dialect;
pub mod error;
pub mod fix;
pub mod layout;
pub mod model;
pub mod render;
pub mod rules;
pub mod source;
pub mod sql;
pub mod typegen;
pub mod types;
pub mod versions;

use std::path::Path;

pub use check::{CheckedMigration, Report};
pub use config::{Config, ServerVersion};
pub use diag::{Diagnostic, Severity};
pub use error::LoadError;
pub use layout::{MigrationSet, Phase};

/// A migrations directory, loaded: its configuration and its migrations.
#[derive(Debug, Clone)]
pub struct Project {
    pub config: Config,
    pub set: MigrationSet,
}

impl Project {
    /// Reads `concertina.toml` and every migration of `dir`.
    pub fn load(dir: &Path) -> Result<Project, LoadError> {
        let set = layout::discover(dir)?;
        let config = Config::load(dir)?;
        if let Some(baseline) = &config.baseline {
            if set.position(baseline).is_none() {
                return Err(LoadError::UnknownBaseline {
                    path: config.path.clone(),
                    baseline: baseline.clone(),
                    suggestion: set
                        .migrations
                        .first()
                        .map_or_else(|| "0001".to_string(), |m| m.version.clone()),
                });
            }
        }
        Ok(Project { config, set })
    }

    /// Runs every check; never stops at the first finding.
    pub fn check(&self) -> Report {
        check::check(&self.set, &self.config)
    }
}
