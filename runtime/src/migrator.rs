//! The migrator: loads and checks the migrations, connects, takes the lock, compares the state
//! table with the files and applies what is pending, phase by phase.

use std::path::Path;
use std::time::{Duration, Instant};

use concertina_codegen::change::QualName;
use concertina_codegen::{Phase, Project, Report};

use crate::backend::Backend;
use crate::catalog::{self, SchemaDiff};
use crate::drift::{find_drift, Drift};
use crate::engine::{ApplyError, ApplyOptions, BackfillOptions, Progress, StepReport};
use crate::error::RuntimeError;
use crate::order::{order_problems, resolve_version, OrderProblem, UnknownVersion};
use crate::plan::{plan_phase, PhasePlan, Step};
use crate::state::{PhaseRecord, Status};

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Load(#[from] concertina_codegen::LoadError),
    #[error("the migrations do not pass `migrate check` ({} error(s)); fix them (or add a reviewed `-- concertina:allow(rule): reason`) before applying:\n{}", .0.len(), .0.join("\n"))]
    CheckFailed(Vec<String>),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("{} phase file(s) changed after they were applied:\n{}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Drift(Vec<Drift>),
    #[error(transparent)]
    Apply(#[from] ApplyError),
    #[error("{} migration(s) out of order in the state table:\n{}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Order(Vec<OrderProblem>),
    #[error(transparent)]
    UnknownVersion(#[from] UnknownVersion),
    #[error("{0}")]
    Refused(String),
}

/// One phase of one migration, with its state.
#[derive(Debug, Clone)]
pub struct PhaseStatus {
    pub version: String,
    pub name: String,
    pub phase: Phase,
    pub file: String,
    pub status: Option<Status>,
    pub statements: usize,
    pub statements_done: usize,
    pub rows_done: i64,
    pub last_error: Option<String>,
}

/// What [`Migrator::sync_diesel`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DieselSync {
    /// Versions diesel had applied, now baselined in concertina's state table.
    pub adopted: Vec<String>,
    /// Versions concertina applied, now recorded in diesel's table.
    pub recorded: Vec<String>,
}

pub struct Migrator {
    pub project: Project,
    pub report: Report,
    pub plans: Vec<PhasePlan>,
    /// The server: PostgreSQL or MySQL/MariaDB, from the dialect in concertina.toml.
    pub db: Box<dyn Backend>,
    pub options: ApplyOptions,
    /// Run a pending migration that sorts before one already applied (`--allow-out-of-order`).
    pub allow_out_of_order: bool,
    locked: bool,
}

impl Migrator {
    /// Loads, checks and connects. Refuses migrations that fail the check.
    pub fn open(dir: &Path, url: &str) -> Result<Migrator, MigrateError> {
        let project = Project::load(dir)?;
        let report = project.check();
        if report.errors() > 0 {
            let errors = report
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(|d| {
                    format!(
                        "  {}:{}:{}: error[{}]: {}",
                        d.file, d.line, d.column, d.rule, d.message
                    )
                })
                .collect();
            return Err(MigrateError::CheckFailed(errors));
        }
        let plans = report
            .migrations
            .iter()
            .flat_map(|m| {
                m.phases
                    .iter()
                    .filter(|p| p.phase != Phase::Down)
                    .map(|p| plan_phase(m, p, &project.config))
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut db = crate::backend::connect(project.config.dialect, url)?;
        db.ensure_state_table()?;
        let options = ApplyOptions::of(&project.config);
        Ok(Migrator {
            project,
            report,
            plans,
            db,
            options,
            allow_out_of_order: false,
            locked: false,
        })
    }

    /// Takes the single-migrator lock; with `wait`, polls until it is free.
    pub fn lock(
        &mut self,
        wait: Option<Duration>,
        mut on_wait: impl FnMut(&str),
    ) -> Result<(), MigrateError> {
        let started = Instant::now();
        loop {
            match self.db.try_lock()? {
                None => {
                    self.locked = true;
                    return Ok(());
                }
                Some(holder) => match wait {
                    Some(limit) if started.elapsed() < limit => {
                        on_wait(&holder);
                        std::thread::sleep(Duration::from_millis(500));
                    }
                    _ => {
                        return Err(RuntimeError::Locked {
                            database: self.db.describe(),
                            holder,
                        }
                        .into())
                    }
                },
            }
        }
    }

    pub fn state(&mut self) -> Result<Vec<PhaseRecord>, MigrateError> {
        Ok(self.db.load_state()?)
    }

    /// (version, directory name) of every migration, in the directory's order.
    fn versions(&self) -> Vec<(String, String)> {
        self.project
            .set
            .migrations
            .iter()
            .map(|m| (m.version.clone(), m.dir_name.clone()))
            .collect()
    }

    /// (version, diesel's version) of every diesel-layout migration, in directory order.
    fn diesel_migrations(&self) -> Vec<(String, String)> {
        self.project
            .set
            .migrations
            .iter()
            .filter(|m| m.layout == concertina_codegen::layout::Layout::Diesel)
            .map(|m| (m.version.clone(), m.diesel_version()))
            .collect()
    }

    /// Keeps concertina's and diesel's records true to each other, for diesel-layout
    /// migrations: a version diesel_migrations recorded in `__diesel_schema_migrations` (it
    /// ran there, before concertina or beside it) is adopted as baselined, never run; a
    /// migration whose expand concertina applied (or baselined) is recorded in diesel's table
    /// (created as diesel creates it), so that `diesel migration run` or
    /// `run_pending_migrations` at an app's start-up never runs it again. Run at the start of
    /// every apply, which also repairs a record a killed migrator left half-written.
    pub fn sync_diesel(&mut self) -> Result<DieselSync, MigrateError> {
        let mut out = DieselSync::default();
        let migrations = self.diesel_migrations();
        if migrations.is_empty() {
            return Ok(out);
        }
        let recorded = self.db.diesel_versions()?.unwrap_or_default();
        let state = self.state()?;
        let present = |version: &str, phase: Option<Phase>| {
            state.iter().any(|r| {
                r.version == version
                    && phase.is_none_or(|p| r.phase == p)
                    && r.status != Status::RolledBack
            })
        };
        for (version, diesel_version) in &migrations {
            if recorded.contains(diesel_version) && !present(version, None) {
                let plans: Vec<PhasePlan> = self
                    .plans
                    .iter()
                    .filter(|p| p.version == *version)
                    .cloned()
                    .collect();
                for plan in &plans {
                    self.db.record_baseline(plan)?;
                }
                out.adopted.push(version.clone());
            }
        }
        let state = self.state()?;
        for (version, diesel_version) in &migrations {
            let expanded = state.iter().any(|r| {
                r.version == *version && r.phase == Phase::Expand && r.status.is_applied()
            });
            if expanded && !recorded.contains(diesel_version) {
                self.db.record_diesel_version(diesel_version)?;
                out.recorded.push(version.clone());
            }
        }
        Ok(out)
    }

    /// Versions diesel recorded that have no row in concertina's state table yet: `status`
    /// shows them as applied by diesel (the next apply adopts them).
    pub fn diesel_applied(&mut self) -> Result<Vec<String>, MigrateError> {
        let migrations = self.diesel_migrations();
        if migrations.is_empty() {
            return Ok(Vec::new());
        }
        let recorded = self.db.diesel_versions()?.unwrap_or_default();
        let state = self.state()?;
        Ok(migrations
            .into_iter()
            .filter(|(v, d)| {
                recorded.contains(d)
                    && !state
                        .iter()
                        .any(|r| r.version == *v && r.status != Status::RolledBack)
            })
            .map(|(v, _)| v)
            .collect())
    }

    /// Records migrations up to the baseline as applied on a database that already has them.
    /// Never behind applied work: a migration at or below the baseline with no row, sorting
    /// before one that has run, is not history the baseline vouches for (it came from a branch
    /// merged later) and is left to the order check.
    pub fn adopt_baseline(&mut self) -> Result<usize, MigrateError> {
        let Some(baseline) = self.project.config.baseline.clone() else {
            return Ok(0);
        };
        let versions = self.versions();
        let limit = resolve_version(&baseline, &versions)?;
        let position = |version: &str| versions.iter().position(|(v, _)| v == version);
        let state = self.state()?;
        let last_run = state
            .iter()
            .filter(|r| r.status != Status::RolledBack)
            .filter_map(|r| position(&r.version))
            .max();
        let mut adopted = 0;
        for plan in &self.plans {
            let Some(at) = position(&plan.version) else {
                continue;
            };
            let recorded = state
                .iter()
                .any(|r| r.version == plan.version && r.phase == plan.phase);
            if at > limit || recorded || last_run.is_some_and(|last| last > at) {
                continue;
            }
            self.db.record_baseline(plan)?;
            adopted += 1;
        }
        Ok(adopted)
    }

    /// What the state table and the directory's order disagree on (see [`crate::order`]).
    pub fn order_problems(&mut self) -> Result<Vec<OrderProblem>, MigrateError> {
        let state = self.state()?;
        Ok(order_problems(&self.plans, &state))
    }

    pub fn status(&mut self) -> Result<Vec<PhaseStatus>, MigrateError> {
        let state = self.state()?;
        Ok(self
            .plans
            .iter()
            .map(|p| {
                let rec = state
                    .iter()
                    .find(|r| r.version == p.version && r.phase == p.phase);
                PhaseStatus {
                    version: p.version.clone(),
                    name: p.name.clone(),
                    phase: p.phase,
                    file: p.file.clone(),
                    status: rec.map(|r| r.status),
                    statements: p.steps.len(),
                    statements_done: rec.map_or(0, |r| r.statements_done.max(0) as usize),
                    rows_done: rec.map_or(0, |r| r.rows_done),
                    last_error: rec.and_then(|r| r.last_error.clone()),
                }
            })
            .collect())
    }

    pub fn drift(&mut self) -> Result<Vec<Drift>, MigrateError> {
        let state = self.state()?;
        Ok(find_drift(&state, &self.plans))
    }

    /// [`Migrator::apply`] without reporting anything: the rehearsal replays the migrations
    /// before the ones it measures, and between its rollback checks, this way.
    pub fn apply_quietly(
        &mut self,
        phases: &[Phase],
        until: Option<&str>,
    ) -> Result<usize, MigrateError> {
        self.apply(phases, until, |_, _, _| {}, |_, _| {}, |_| {})
    }

    /// Applies every pending phase of the given kinds, in version order. `until` stops after
    /// that version. Backfill phases run through the batched engine.
    pub fn apply(
        &mut self,
        phases: &[Phase],
        until: Option<&str>,
        mut on_step: impl FnMut(&PhasePlan, &Step, &StepReport),
        mut on_phase: impl FnMut(&PhasePlan, &str),
        mut on_progress: impl FnMut(&Progress),
    ) -> Result<usize, MigrateError> {
        if !self.locked {
            return Err(MigrateError::Refused(
                "internal: apply without the migrator lock".into(),
            ));
        }
        let versions = self.versions();
        // A typo in --to must never mean "everything".
        let limit = until.map(|v| resolve_version(v, &versions)).transpose()?;
        let drift = self.drift()?;
        if !drift.is_empty() {
            return Err(MigrateError::Drift(drift));
        }
        let allow = self.allow_out_of_order;
        let problems: Vec<OrderProblem> = self
            .order_problems()?
            .into_iter()
            .filter(|p| !(allow && p.allowed_out_of_order()))
            .collect();
        if !problems.is_empty() {
            return Err(MigrateError::Order(problems));
        }
        let state = self.state()?;
        let mut applied = 0;
        let plans = self.plans.clone();
        for plan in &plans {
            if !phases.contains(&plan.phase) {
                continue;
            }
            let position = versions.iter().position(|(v, _)| *v == plan.version);
            if let (Some(limit), Some(position)) = (limit, position) {
                if position > limit {
                    break;
                }
            }
            let rec = state
                .iter()
                .find(|r| r.version == plan.version && r.phase == plan.phase);
            if rec.is_some_and(|r| r.status.is_applied()) {
                continue;
            }
            // A phase waits for the earlier phases of its own migration.
            for earlier in Phase::FORWARD.iter().take_while(|p| **p != plan.phase) {
                let has_file = plans
                    .iter()
                    .any(|p| p.version == plan.version && p.phase == *earlier);
                let done = self.state()?.iter().any(|r| {
                    r.version == plan.version && r.phase == *earlier && r.status.is_applied()
                });
                if has_file && !done {
                    return Err(MigrateError::Refused(format!(
                        "{}: its {} phase has not been applied; run `migrate {}` first",
                        plan.file,
                        earlier.as_str(),
                        earlier.as_str()
                    )));
                }
            }
            if plan.phase == Phase::Contract {
                let done = rec.map_or(0, |r| r.statements_done.max(0) as usize);
                self.refuse_nulls(plan, done)?;
            }
            on_phase(plan, "start");
            if plan.phase == Phase::Backfill {
                let runtime = &self.project.config.runtime;
                let options = BackfillOptions {
                    batch_size: runtime.batch_size,
                    batch_target: runtime.batch_target,
                    batch_pause: runtime.batch_pause,
                    max_replica_lag: runtime.max_replica_lag,
                    max_replica_lag_bytes: runtime.max_replica_lag_bytes,
                    lock_timeout: runtime.lock_timeout,
                    lock_retries: runtime.lock_retries,
                    workers: runtime.backfill_workers,
                    latency_budget: runtime.app_latency_budget,
                    replicas: runtime.replicas.clone(),
                };
                self.db
                    .run_backfill(plan, rec, &self.options, &options, &mut on_progress)?;
            } else {
                let result =
                    self.db
                        .apply_ddl_phase(plan, rec, &self.options, &mut |step, report| {
                            on_step(plan, step, report)
                        });
                if let Err(ApplyError::Statement {
                    file,
                    line,
                    message,
                }) = result
                {
                    // A NULL written since the count above: say so from the table's rows, not
                    // from the server's wording (`Data truncated …`, `… violated by some row`).
                    let from = plan.steps.iter().position(|s| s.line == line).unwrap_or(0);
                    let nulls = self.nulls_left(plan, from).unwrap_or_default();
                    let message = match nulls.iter().find(|n| n.0 == line) {
                        Some((_, table, column, n)) => format!(
                            "{message}; {n} row(s) of {table} hold NULL in {column} (written since the backfill): backfill them and make every running app write the column, then contract again"
                        ),
                        None => message,
                    };
                    return Err(ApplyError::Statement {
                        file,
                        line,
                        message,
                    }
                    .into());
                }
                result?;
                if plan.phase == Phase::Expand {
                    // diesel's record follows concertina's at once (and `sync_diesel` repairs
                    // it at the next start if the migrator dies between the two).
                    if let Some((_, dv)) = self
                        .diesel_migrations()
                        .into_iter()
                        .find(|(v, _)| *v == plan.version)
                    {
                        self.db.record_diesel_version(&dv)?;
                    }
                }
            }
            on_phase(plan, "done");
            applied += 1;
        }
        Ok(applied)
    }
}

impl Migrator {
    /// Undoes the expand (and backfill) of the latest migration whose contract has not run.
    /// Returns the plan that ran.
    pub fn down(
        &mut self,
        mut on_step: impl FnMut(&PhasePlan, &Step, &StepReport),
    ) -> Result<PhasePlan, MigrateError> {
        if !self.locked {
            return Err(MigrateError::Refused(
                "internal: down without the migrator lock".into(),
            ));
        }
        // Inverses are derived from the files: an edited applied file would undo what never
        // ran (and drop what did). Like every other command, refuse until it is restored.
        let drift = self.drift()?;
        if !drift.is_empty() {
            return Err(MigrateError::Drift(drift));
        }
        let state = self.state()?;
        let applied = |version: &str, phase: Phase| {
            state
                .iter()
                .find(|r| r.version == version && r.phase == phase)
                .map(|r| r.status)
        };
        let target = self.report.migrations.iter().rev().find(|m| {
            matches!(
                applied(&m.version, Phase::Expand),
                Some(Status::Done | Status::Baselined)
            )
        });
        let Some(migration) = target else {
            return Err(MigrateError::Refused(
                "nothing to undo: no migration's expand has been applied".into(),
            ));
        };
        if applied(&migration.version, Phase::Expand) == Some(Status::Baselined) {
            return Err(MigrateError::Refused(format!(
                "{}: is at or below the baseline; concertina never ran it and will not undo it",
                migration.dir_name
            )));
        }
        if applied(&migration.version, Phase::Contract).is_some_and(Status::is_applied) {
            return Err(MigrateError::Refused(format!(
                "{}: its contract has run, which removed what the old app used; `down` undoes only an expand that has not been contracted (write a new migration instead)",
                migration.dir_name
            )));
        }
        let plan = crate::down::down_plan(migration, &self.project.config, self.db.as_ref())
            .map_err(MigrateError::Refused)?;
        let existing = state
            .iter()
            .find(|r| r.version == plan.version && r.phase == Phase::Down)
            .cloned();
        self.db.apply_ddl_phase(
            &plan,
            existing.as_ref(),
            &self.options,
            &mut |step, report| on_step(&plan, step, report),
        )?;
        self.db.record_rollback(&plan.version)?;
        if let Some((_, dv)) = self
            .diesel_migrations()
            .into_iter()
            .find(|(v, _)| *v == plan.version)
        {
            self.db.forget_diesel_version(&dv)?;
        }
        Ok(plan)
    }
}

/// What `verify` found.
#[derive(Debug, Default)]
pub struct Verification {
    pub diff: SchemaDiff,
    /// Columns a pending contract sets NOT NULL that still hold NULLs.
    pub nulls: Vec<String>,
}

impl Verification {
    pub fn is_ok(&self) -> bool {
        self.diff.is_empty() && self.nulls.is_empty()
    }
}

impl Migrator {
    /// The model of what the database should hold: every applied phase replayed in order.
    pub fn expected_schema(&mut self) -> Result<concertina_codegen::model::Schema, MigrateError> {
        let state = self.state()?;
        // Replayed as the checker replays it: MySQL names indexes and keys its own way.
        let mut schema = concertina_codegen::model::Schema {
            dialect: self.project.config.dialect,
            ..Default::default()
        };
        for m in &self.report.migrations {
            for phase in Phase::FORWARD {
                let applied = state
                    .iter()
                    .any(|r| r.version == m.version && r.phase == phase && r.status.is_applied());
                if !applied {
                    continue;
                }
                if let Some(p) = m.phase(phase) {
                    for stmt in &p.parsed.statements {
                        schema.apply(&stmt.change);
                    }
                }
            }
        }
        Ok(schema)
    }

    /// Live schema against the model; NULLs left where a pending contract needs none.
    pub fn verify(&mut self) -> Result<Verification, MigrateError> {
        let expected = self.expected_schema()?;
        let live = self.db.live_facts()?;
        let diff = catalog::diff(&live, &self.db.model_facts(&expected));
        let state = self.state()?;
        let mut nulls = Vec::new();
        let plans = self.plans.clone();
        for plan in plans.iter().filter(|p| p.phase == Phase::Contract) {
            let pending = !state.iter().any(|r| {
                r.version == plan.version && r.phase == Phase::Contract && r.status.is_applied()
            });
            let expanded = state.iter().any(|r| {
                r.version == plan.version && r.phase == Phase::Expand && r.status.is_applied()
            });
            if !(pending && expanded) {
                continue;
            }
            for (line, table, column, n) in self.nulls_left(plan, 0)? {
                nulls.push(format!(
                    "{}:{line}: contract sets {table}.{column} NOT NULL but {n} row(s) hold NULL; run (or re-run) the backfill and make the app write the column",
                    plan.file
                ));
            }
        }
        Ok(Verification { diff, nulls })
    }

    /// (line, table, column, NULL rows) of each step of `plan` from step `from` on that makes
    /// a column NOT NULL while rows still hold NULL.
    fn nulls_left(
        &mut self,
        plan: &PhasePlan,
        from: usize,
    ) -> Result<Vec<(usize, QualName, String, i64)>, MigrateError> {
        let parsed = self
            .report
            .migrations
            .iter()
            .find(|m| m.version == plan.version)
            .and_then(|m| m.phase(plan.phase))
            .map(|p| p.parsed.statements.clone())
            .unwrap_or_default();
        let mut out = Vec::new();
        for step in plan.steps.iter().skip(from) {
            let change = parsed
                .iter()
                .find(|s| s.line == step.line)
                .map(|s| &s.change);
            let Some((table, column)) = self.db.sets_not_null(step, change) else {
                continue;
            };
            let n = self.db.count_nulls(&table, &column)?;
            if n > 0 {
                out.push((step.line, table, column, n));
            }
        }
        Ok(out)
    }

    /// Before a contract runs anything: a `SET NOT NULL` over rows that hold NULL would fail
    /// half-way (and on PostgreSQL leave the recipe's NOT VALID check refusing the app's
    /// NULLs); refuse with the count and a query that finds them.
    fn refuse_nulls(&mut self, plan: &PhasePlan, from: usize) -> Result<(), MigrateError> {
        let found = self.nulls_left(plan, from)?;
        if found.is_empty() {
            return Ok(());
        }
        let lines: Vec<String> = found
            .iter()
            .map(|(line, table, column, n)| {
                let t = if table.schema.is_empty() {
                    self.db.quote_ident(&table.name)
                } else {
                    format!(
                        "{}.{}",
                        self.db.quote_ident(&table.schema),
                        self.db.quote_ident(&table.name)
                    )
                };
                let c = self.db.quote_ident(column);
                format!(
                    "  {}:{line}: sets {table}.{column} NOT NULL but {n} row(s) hold NULL; find them with `SELECT * FROM {t} WHERE {c} IS NULL LIMIT 100`",
                    plan.file
                )
            })
            .collect();
        Err(MigrateError::Refused(format!(
            "{}: not started, nothing changed: the contract would fail on NULLs the backfill left (or the app still writes):\n{}\nrun (or re-run) the backfill, make every running app write the column, then contract again",
            plan.file,
            lines.join("\n")
        )))
    }
}

impl Drop for Migrator {
    fn drop(&mut self) {
        if self.locked {
            let _ = self.db.unlock();
        }
    }
}
