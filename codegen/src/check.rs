//! The checker: replays every migration into the model, keeps each migration's window
//! (`S(N-1)`, `E(N)`, `S(N)`), runs every rule on every statement after the baseline and
//! collects all diagnostics.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::change::{AlterOp, Change};
use crate::config::Config;
use crate::diag::{sort_diagnostics, Diagnostic, Severity};
use crate::dialect::Dialect;
use crate::fix::PlannedFix;
use crate::layout::{Layout, Migration, MigrationSet, Phase};
use crate::model::Schema;
use crate::rules::lock_scope;
use crate::rules::{self, FileState, Findings, StatementCtx, Window};
use crate::source::SourceFile;
use crate::sql::{self, ParsedFile, Statement};

/// A phase file after parsing.
#[derive(Debug, Clone)]
pub struct CheckedPhase {
    pub phase: Phase,
    pub source: SourceFile,
    pub parsed: ParsedFile,
}

/// One migration with its parsed phases and its schema versions.
#[derive(Debug, Clone)]
pub struct CheckedMigration {
    pub version: String,
    pub name: String,
    pub dir_name: String,
    /// At or below the baseline: replayed, not checked.
    pub baselined: bool,
    pub phases: Vec<CheckedPhase>,
    pub window: Window,
}

impl CheckedMigration {
    pub fn phase(&self, phase: Phase) -> Option<&CheckedPhase> {
        self.phases.iter().find(|p| p.phase == phase)
    }
}

#[derive(Debug, Clone)]
pub struct Report {
    pub diagnostics: Vec<Diagnostic>,
    /// Findings a `concertina:allow(rule): reason` comment silenced: not reported, but still
    /// the checker's verdict on the statement (the tracer compares them with the server).
    pub suppressed: Vec<Diagnostic>,
    pub migrations: Vec<CheckedMigration>,
    pub statements: usize,
    /// `concertina.toml`, when a diagnostic points into it.
    pub config_source: Option<SourceFile>,
    /// Each reported statement's rewrite by its rule, for `migrate fix` (rules with a fix only).
    pub fixes: Vec<PlannedFix>,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn warnings(&self) -> usize {
        self.diagnostics.len() - self.errors()
    }

    /// The schema after the last migration's contract.
    pub fn latest(&self) -> Arc<Schema> {
        self.migrations
            .last()
            .map(|m| m.window.after.clone())
            .unwrap_or_default()
    }

    /// The source of a diagnostic's file, for snippets.
    pub fn source(&self, rel_path: &str) -> Option<&SourceFile> {
        self.migrations
            .iter()
            .flat_map(|m| &m.phases)
            .map(|p| &p.source)
            .chain(self.config_source.as_ref())
            .find(|s| s.rel_path == rel_path)
    }
}

fn diagnostic(
    source: &SourceFile,
    line: usize,
    column: usize,
    rule: &str,
    severity: Severity,
    message: String,
    help: String,
) -> Diagnostic {
    Diagnostic {
        rule: rule.to_string(),
        severity,
        file: source.rel_path.clone(),
        line,
        column,
        message,
        help,
        fixable: false,
        fix_with: None,
    }
}

/// Replays a parsed phase into `schema`, ignoring what the model cannot follow.
fn replay(schema: &mut Schema, parsed: &ParsedFile) {
    for s in &parsed.statements {
        schema.apply(&s.change);
    }
}

pub fn check(set: &MigrationSet, config: &Config) -> Report {
    let dialect = config.dialect.dialect();
    let rules = rules::rules_for(dialect);
    let known_ids: BTreeSet<&str> = rules::all_rules()
        .iter()
        .map(|r| r.id)
        .chain(rules::CHECKER_IDS.iter().map(|(id, _, _)| *id))
        .collect();
    let baseline_position = config.baseline.as_deref().and_then(|b| set.position(b));
    let mut diagnostics = set.warnings.clone();
    let mut suppressed = Vec::new();
    let mut fixes = Vec::new();
    diagnostics.extend(config.warnings.iter().cloned());
    let mut schema = Arc::new(Schema {
        dialect: dialect.kind(),
        ..Schema::default()
    });
    let mut migrations = Vec::new();
    let mut statements = 0;

    for (position, migration) in set.migrations.iter().enumerate() {
        let phases: Vec<CheckedPhase> = migration
            .phases
            .iter()
            .map(|pf| CheckedPhase {
                phase: pf.phase,
                source: pf.source.clone(),
                parsed: sql::parse_file(&pf.source, dialect),
            })
            .collect();
        statements += phases
            .iter()
            .map(|p| p.parsed.statements.len())
            .sum::<usize>();
        let window = build_window(schema, &phases, migration.layout);
        let baselined = baseline_position.is_some_and(|b| position <= b);
        if !baselined {
            check_migration(
                migration,
                &phases,
                &window,
                dialect,
                config,
                &rules,
                &known_ids,
                &mut diagnostics,
                &mut suppressed,
                &mut fixes,
            );
        }
        schema = window.after.clone();
        migrations.push(CheckedMigration {
            version: migration.version.clone(),
            name: migration.name.clone(),
            dir_name: migration.dir_name.clone(),
            baselined,
            phases,
            window,
        });
    }

    let rank: BTreeMap<String, usize> = migrations
        .iter()
        .flat_map(|m| m.phases.iter().map(|p| p.source.rel_path.clone()))
        .enumerate()
        .map(|(i, p)| (p, i))
        .collect();
    sort_diagnostics(&mut diagnostics, |f| {
        rank.get(f).copied().unwrap_or(usize::MAX)
    });
    Report {
        diagnostics,
        suppressed,
        migrations,
        statements,
        config_source: config.source.clone(),
        fixes,
    }
}

fn build_window(start: Arc<Schema>, phases: &[CheckedPhase], layout: Layout) -> Window {
    let mut schema = (*start).clone();
    let mut expanded = None;
    let mut backfilled = BTreeSet::new();
    let mut renames = Vec::new();
    for phase in Phase::FORWARD {
        if let Some(p) = phases.iter().find(|p| p.phase == phase) {
            replay(&mut schema, &p.parsed);
            renames.extend(p.parsed.renames.iter().cloned());
            if phase == Phase::Backfill {
                for s in &p.parsed.statements {
                    if let Change::Update {
                        table, assignments, ..
                    } = &s.change
                    {
                        for a in assignments {
                            backfilled.insert((table.clone(), a.column.clone()));
                        }
                    }
                }
            }
        }
        if phase == Phase::Expand {
            expanded = Some(Arc::new(schema.clone()));
        }
    }
    Window {
        expanded: expanded.unwrap_or_else(|| start.clone()),
        before: start,
        after: Arc::new(schema),
        phases: phases.iter().map(|p| p.phase).collect(),
        backfilled,
        renames,
        phase_texts: phases
            .iter()
            .map(|p| (p.phase, p.source.text.clone()))
            .collect(),
        layout,
    }
}

#[allow(clippy::too_many_arguments)]
fn check_migration(
    migration: &Migration,
    phases: &[CheckedPhase],
    window: &Window,
    dialect: &dyn Dialect,
    config: &Config,
    rules: &[&'static rules::Rule],
    known_ids: &BTreeSet<&str>,
    out: &mut Vec<Diagnostic>,
    suppressed: &mut Vec<Diagnostic>,
    fixes: &mut Vec<PlannedFix>,
) {
    let _ = migration;
    let mut schema = (*window.before).clone();
    for phase in [Phase::Expand, Phase::Backfill, Phase::Contract, Phase::Down] {
        let Some(p) = phases.iter().find(|p| p.phase == phase) else {
            continue;
        };
        if phase == Phase::Down {
            // down undoes expand: it runs against E(N).
            schema = (*window.expanded).clone();
        }
        check_phase(
            p,
            &mut schema,
            window,
            dialect,
            config,
            rules,
            known_ids,
            out,
            suppressed,
            fixes,
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn check_phase(
    phase: &CheckedPhase,
    schema: &mut Schema,
    window: &Window,
    dialect: &dyn Dialect,
    config: &Config,
    rules: &[&'static rules::Rule],
    known_ids: &BTreeSet<&str>,
    out: &mut Vec<Diagnostic>,
    suppressed: &mut Vec<Diagnostic>,
    fixes: &mut Vec<PlannedFix>,
) {
    let source = &phase.source;
    for problem in &phase.parsed.problems {
        out.push(diagnostic(
            source,
            problem.line,
            problem.column,
            problem.rule,
            if problem.is_error {
                Severity::Error
            } else {
                Severity::Warning
            },
            problem.message.clone(),
            problem.help.clone(),
        ));
    }
    if phase.parsed.statements.is_empty() {
        out.push(diagnostic(
            source,
            1,
            1,
            "empty-phase",
            Severity::Warning,
            format!(
                "{} holds no statement",
                source.rel_path.rsplit('/').next().unwrap_or_default()
            ),
            "remove the empty file, or write the phase's statements in it".into(),
        ));
    }
    let mut file_state = FileState::default();
    let mut phase_end = schema.clone();
    replay(&mut phase_end, &phase.parsed);
    for stmt in &phase.parsed.statements {
        if let Some(reason) = stmt.unparsed.as_ref().filter(|_| !stmt.unterminated) {
            out.push(diagnostic(
                source,
                stmt.line,
                stmt.column,
                "unparsed-statement",
                Severity::Warning,
                format!("cannot parse this statement ({reason}); it is kept as written and the schema model does not follow it"),
                "if it changes the schema, later checks may miss that; if it is valid SQL the parser does not know, `concertina:allow(unparsed-statement): reason` silences this".into(),
            ));
        }
        let ctx = StatementCtx {
            dialect,
            config,
            phase: phase.phase,
            statement: stmt,
            change: &stmt.change,
            schema,
            phase_end: &phase_end,
            window,
            file: &file_state,
            source,
        };
        let targets = lock_scope::lock_targets(&stmt.change, schema, &file_state);
        let mut used = vec![false; stmt.allows.len()];
        // `unparsed-statement` is suppressible like any rule.
        if stmt.unparsed.is_some() && !stmt.unterminated {
            if let Some(i) = stmt
                .allows
                .iter()
                .position(|a| a.rules.iter().any(|r| r == "unparsed-statement"))
            {
                used[i] = true;
                out.pop();
            }
        }
        for rule in rules {
            if phase.phase == Phase::Down && rule.id.starts_with("compat-") {
                continue;
            }
            let mut findings = Findings::default();
            (rule.check)(&ctx, &mut findings);
            let first = out.len();
            for f in findings.items {
                let f = lock_scope::scope_finding(rule.id, rule.severity, f, &targets, config);
                let d = diagnostic(
                    source,
                    stmt.line,
                    stmt.column,
                    rule.id,
                    f.severity.unwrap_or(rule.severity),
                    f.message,
                    phase_terms(
                        window.layout,
                        f.help.unwrap_or_else(|| rule.help.to_string()),
                    ),
                );
                if let Some(i) = stmt
                    .allows
                    .iter()
                    .position(|a| a.rules.iter().any(|r| r == rule.id))
                {
                    used[i] = true;
                    suppressed.push(d);
                    continue;
                }
                out.push(d);
            }
            if let Some(fix) = rule.fix.filter(|_| out.len() > first) {
                let outcome = fix(&ctx);
                for d in &mut out[first..] {
                    d.fixable = outcome.is_ok();
                    d.fix_with = outcome.as_ref().err().and_then(|n| n.flag.clone());
                }
                fixes.push(PlannedFix {
                    file: source.rel_path.clone(),
                    phase: phase.phase,
                    line: stmt.line,
                    column: stmt.column,
                    rule: rule.id,
                    outcome,
                });
            }
        }
        let unknown_allow = stmt
            .allows
            .iter()
            .position(|a| a.rules.iter().any(|r| r == "unknown-object"));
        for warning in schema.apply(&stmt.change) {
            if let Some(i) = unknown_allow {
                used[i] = true;
                continue;
            }
            out.push(diagnostic(
                source,
                stmt.line,
                stmt.column,
                "unknown-object",
                Severity::Warning,
                warning.0,
                "the model follows only what earlier migrations created; if an opaque statement created it, ignore this or add `concertina:allow(unknown-object): reason`".into(),
            ));
        }
        for (allow, used) in stmt.allows.iter().zip(used) {
            if !used {
                report_unused_allow(source, allow, known_ids, out);
            }
        }
        update_file_state(&mut file_state, stmt);
    }
    for allow in &phase.parsed.dangling_allows {
        report_unused_allow(source, allow, known_ids, out);
    }
}

/// A recipe in the migration's own terms: a diesel migration has `up.sql` and `down.sql`,
/// no backfill or contract phase, so a recipe naming those files says what they are.
fn phase_terms(layout: Layout, help: String) -> String {
    if layout != Layout::Diesel {
        return help;
    }
    help.replace("`backfill.sql`", "backfill.sql")
        .replace(
            "backfill.sql",
            "a backfill phase (a diesel migration has none: give this migration concertina's expand.sql/backfill.sql/contract.sql layout)",
        )
        .replace(
            "contract.sql",
            "a later migration's up.sql (a diesel migration has no contract phase)",
        )
}

fn report_unused_allow(
    source: &SourceFile,
    allow: &sql::Allow,
    known_ids: &BTreeSet<&str>,
    out: &mut Vec<Diagnostic>,
) {
    for id in &allow.rules {
        let message = if known_ids.contains(id.as_str()) {
            format!("`concertina:allow({id})` suppresses nothing: the statement below it does not trigger `{id}`")
        } else {
            format!("`concertina:allow({id})` names no rule: there is no rule `{id}`")
        };
        out.push(diagnostic(
            source,
            allow.line,
            allow.column,
            "unused-allow",
            Severity::Warning,
            message,
            "remove the comment, or put it directly above the statement it is meant for (rule ids: `cargo xtask migrate rules`)".into(),
        ));
    }
}

fn update_file_state(state: &mut FileState, stmt: &Statement) {
    match &stmt.change {
        Change::Begin => state.open_transaction = Some(Vec::new()),
        Change::Commit | Change::Rollback => state.open_transaction = None,
        other => {
            if let Some(tx) = &mut state.open_transaction {
                tx.push(other.clone());
            }
        }
    }
    match &stmt.change {
        Change::CreateTable(ct) => {
            state.created_tables.insert(ct.name.clone());
        }
        // A materialized view created in the file is as new as a table: no one reads it yet.
        Change::CreateView {
            name,
            materialized: true,
            ..
        } => {
            state.created_tables.insert(name.clone());
        }
        Change::AlterTable { table, ops, .. } => {
            for op in ops {
                if let AlterOp::RenameTable { to } = op {
                    if state.created_tables.remove(table) {
                        state.created_tables.insert(to.clone());
                    }
                }
            }
        }
        Change::SetVariable { name, value } if name == "timezone" => {
            let v = value.trim_matches(['\'', '"']).to_ascii_uppercase();
            state.timezone_utc =
                matches!(v.as_str(), "UTC" | "GMT" | "ETC/UTC" | "Z" | "+00" | "0");
        }
        Change::AddEnumValue { name, label, .. } => {
            state.added_enum_labels.push((name.clone(), label.clone()));
        }
        Change::SetVariable { name, value } => {
            // `SET [SESSION] foreign_key_checks`, `SET @@[session.]foreign_key_checks`.
            let name = name.trim_start_matches("@@");
            let name = name
                .strip_prefix("session.")
                .or_else(|| name.strip_prefix("local."))
                .unwrap_or(name);
            if name == "foreign_key_checks" {
                let v = value.trim_matches(['\'', '"']).to_ascii_lowercase();
                state.foreign_key_checks_off = matches!(v.as_str(), "0" | "off" | "false");
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::Case;

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email text);";

    fn rules_of(case: Case) -> Vec<String> {
        case.run().into_iter().map(|d| d.rule).collect()
    }

    #[test]
    fn the_baseline_is_replayed_not_checked() {
        // The setup's plain index would be an error if 0001 were checked.
        let setup = "CREATE TABLE users (id bigint PRIMARY KEY, email text);\nCREATE INDEX a ON users (email);";
        let diags = Case::pg(
            setup,
            &[(Phase::Expand, "CREATE INDEX CONCURRENTLY b ON users (id);")],
        )
        .run();
        assert!(diags.is_empty(), "{diags:?}");
    }

    #[test]
    fn empty_phase_is_a_warning() {
        let rules = rules_of(Case::pg(SETUP, &[(Phase::Expand, "-- nothing yet\n")]));
        assert_eq!(rules, ["empty-phase"]);
    }

    #[test]
    fn unknown_objects_are_warnings_and_suppressible() {
        let diags = Case::pg(
            SETUP,
            &[(Phase::Expand, "ALTER TABLE ghosts ADD COLUMN a int;")],
        )
        .run();
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].rule, "unknown-object");
        assert!(diags[0].message.contains("ghosts"));
        let quiet = rules_of(Case::pg(
            SETUP,
            &[(Phase::Expand, "-- concertina:allow(unknown-object): created by an extension\nALTER TABLE ghosts ADD COLUMN a int;")],
        ));
        assert!(quiet.is_empty(), "{quiet:?}");
    }

    #[test]
    fn allow_that_matches_nothing_is_a_warning() {
        let diags = Case::pg(
            SETUP,
            &[(Phase::Expand, "-- concertina:allow(index-not-concurrent): habit\nALTER TABLE users ADD COLUMN a int;\n-- concertina:allow(no-such-rule): typo\nALTER TABLE users ADD COLUMN b int;")],
        )
        .run();
        let unused: Vec<&str> = diags
            .iter()
            .filter(|d| d.rule == "unused-allow")
            .map(|d| d.message.as_str())
            .collect();
        assert_eq!(unused.len(), 2, "{diags:?}");
        assert!(unused[0].contains("suppresses nothing"));
        assert!(unused[1].contains("names no rule"));
    }

    #[test]
    fn allow_without_reason_is_an_error_but_still_suppresses() {
        let diags = Case::pg(
            SETUP,
            &[(
                Phase::Expand,
                "-- concertina:allow(index-not-concurrent)\nCREATE INDEX a ON users (email);",
            )],
        )
        .run();
        let rules: Vec<&str> = diags.iter().map(|d| d.rule.as_str()).collect();
        assert_eq!(rules, ["allow-without-reason"]);
        assert!(diags[0].is_error());
    }

    #[test]
    fn every_finding_is_collected_not_just_the_first() {
        let diags = Case::pg(
            SETUP,
            &[
                (
                    Phase::Expand,
                    "CREATE INDEX a ON users (email);\nCREATE INDEX b ON users (id);",
                ),
                (Phase::Contract, "CREATE INDEX c ON users (email);"),
            ],
        )
        .hits("index-not-concurrent");
        let lines: Vec<(String, usize)> = diags.into_iter().map(|d| (d.file, d.line)).collect();
        assert_eq!(
            lines,
            [
                ("0002_change/expand.sql".to_string(), 1),
                ("0002_change/expand.sql".to_string(), 2),
                ("0002_change/contract.sql".to_string(), 1)
            ]
        );
    }

    #[test]
    fn an_unterminated_token_is_an_error_and_earlier_statements_are_still_checked() {
        for tail in [
            "SELECT $$ never closed;\nSELECT 2;\n",
            "/* never closed\nSELECT 2;\n",
            "SELECT 'never closed;\n",
        ] {
            let expand = format!("CREATE INDEX a ON users (email);\n{tail}");
            let diags = Case::pg(SETUP, &[(Phase::Expand, expand.as_str())]).run();
            let found: Vec<(&str, usize, bool)> = diags
                .iter()
                .map(|d| (d.rule.as_str(), d.line, d.is_error()))
                .collect();
            assert_eq!(
                found,
                [
                    ("index-not-concurrent", 1, true),
                    ("unterminated-token", 2, true)
                ],
                "{tail:?}: {diags:?}"
            );
        }
    }

    #[test]
    fn unparsed_statement_warns_and_can_be_allowed() {
        let rules = rules_of(Case::pg(
            SETUP,
            &[(Phase::Expand, "ALTER TABLE users FROBNICATE;")],
        ));
        assert_eq!(rules, ["unparsed-statement"]);
        let rules = rules_of(Case::pg(
            SETUP,
            &[(Phase::Expand, "-- concertina:allow(unparsed-statement): vendor syntax\nALTER TABLE users FROBNICATE;")],
        ));
        assert!(rules.is_empty(), "{rules:?}");
    }
}
