//! The phase runner, written once: a DDL phase (expand, contract, down) runs its steps in order,
//! each recorded as it completes; a backfill phase runs its data changes through the batch
//! engine, resuming at the saved cursor, and any other statement as a step. The state table
//! says where a phase stands (the state store writes it); a server supplies what running one
//! step or one backfill statement means ([`PhaseServer`]).

use super::backfill::{self, BatchServer};
use super::store::{self, StateSql};
use super::{ApplyError, ApplyOptions, BackfillOptions, Progress, Slices, StepReport};
use crate::error::RuntimeError;
use crate::plan::{PhasePlan, Step, StepKind};
use crate::state::{PhaseRecord, Status};

/// What the phase runner needs from a server.
pub trait PhaseServer {
    fn state(&mut self) -> &mut dyn StateSql;

    /// The statement a killed run had started and maybe finished (MySQL: DDL commits by
    /// itself, so the one statement may find its work done). `None` where statements commit
    /// with their record.
    fn interrupted_statement(&self, _existing: Option<&PhaseRecord>) -> Option<usize> {
        None
    }

    /// Runs one step and records it as done.
    fn run_step(
        &mut self,
        plan: &PhasePlan,
        step: &Step,
        options: &ApplyOptions,
        interrupted: bool,
    ) -> Result<StepReport, String>;

    /// Waits until no backfill worker of an earlier, killed run can still commit a batch.
    fn wait_for_earlier_workers(&mut self) -> Result<(), String>;

    /// The connection a backfill statement's first worker runs on (the engine asks it for
    /// the others).
    type Batch: BatchServer;

    fn batch_connection(&mut self) -> Result<Self::Batch, String>;
}

/// Marks the phase failed with a located message and builds the error.
fn fail(state: &mut dyn StateSql, plan: &PhasePlan, step: &Step, message: String) -> ApplyError {
    let located = format!("{}:{}: {message}", plan.file, step.line);
    if let Err(e) = store::finish_phase(state, plan, Status::Failed, Some(&located)) {
        return e.into();
    }
    ApplyError::Statement {
        file: plan.file.clone(),
        line: step.line,
        message,
    }
}

/// How a phase runs, written once for every server on its [`PhaseServer`]. The
/// backends' `Backend` trait has it as a supertrait, so the migrator runs phases through a
/// `dyn Backend`.
pub trait RunsPhases {
    /// Runs every step of a DDL phase (expand, contract, down) not yet done, recording each.
    fn apply_ddl_phase(
        &mut self,
        plan: &PhasePlan,
        existing: Option<&PhaseRecord>,
        options: &ApplyOptions,
        on_step: &mut dyn FnMut(&Step, &StepReport),
    ) -> Result<(), ApplyError>;

    /// Runs a backfill phase, statement by statement, resuming at the saved cursor.
    fn run_backfill(
        &mut self,
        plan: &PhasePlan,
        existing: Option<&PhaseRecord>,
        apply: &ApplyOptions,
        options: &BackfillOptions,
        on_progress: &mut dyn FnMut(&Progress),
    ) -> Result<(), ApplyError>;
}

impl<S: PhaseServer> RunsPhases for S {
    fn apply_ddl_phase(
        &mut self,
        plan: &PhasePlan,
        existing: Option<&PhaseRecord>,
        options: &ApplyOptions,
        on_step: &mut dyn FnMut(&Step, &StepReport),
    ) -> Result<(), ApplyError> {
        let interrupted = self.interrupted_statement(existing);
        let start_at = store::begin_phase(self.state(), plan, existing)?;
        for step in plan.steps.iter().skip(start_at) {
            match self.run_step(plan, step, options, interrupted == Some(step.index)) {
                Ok(report) => on_step(step, &report),
                Err(message) => return Err(fail(self.state(), plan, step, message)),
            }
        }
        store::finish_phase(self.state(), plan, Status::Done, None)?;
        Ok(())
    }

    fn run_backfill(
        &mut self,
        plan: &PhasePlan,
        existing: Option<&PhaseRecord>,
        apply: &ApplyOptions,
        options: &BackfillOptions,
        on_progress: &mut dyn FnMut(&Progress),
    ) -> Result<(), ApplyError> {
        let interrupted = self.interrupted_statement(existing);
        let start_at = store::begin_phase(self.state(), plan, existing)?;
        // Workers of a killed run may still be finishing a batch on the server: wait for them,
        // then read the cursor as they left it.
        self.wait_for_earlier_workers()
            .map_err(|message| RuntimeError::query("starting the backfill", message))?;
        let saved = store::saved_cursor(self.state(), &plan.version)?;
        let mut rows_before = existing
            .filter(|r| r.status != Status::RolledBack)
            .map_or(0, |r| r.rows_done);
        for step in plan.steps.iter().skip(start_at) {
            let StepKind::Backfill { change, .. } = &step.kind else {
                // Not a data change (the checker's `ddl-in-backfill` refuses these): run as is.
                if let Err(message) =
                    self.run_step(plan, step, apply, interrupted == Some(step.index))
                {
                    return Err(fail(self.state(), plan, step, message));
                }
                continue;
            };
            let cursor = match &saved {
                Some(c) if c.statement == step.index => c.clone(),
                _ => Slices::default(),
            };
            let run = self.batch_connection().and_then(|mut first| {
                backfill::run_statement(
                    &mut first,
                    options,
                    &plan.version,
                    step.index,
                    change,
                    cursor,
                    rows_before,
                    on_progress,
                )
            });
            match run {
                Ok(rows) => rows_before += rows,
                Err(message) => return Err(fail(self.state(), plan, step, message)),
            }
            store::backfill_statement_done(self.state(), &plan.version, step.index)?;
        }
        store::finish_phase(self.state(), plan, Status::Done, None)?;
        Ok(())
    }
}
