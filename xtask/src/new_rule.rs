//! `cargo xtask new-rule <rule-id> --group postgres|mysql|common|compat`: scaffolds a rule the
//! way every rule is laid out (squawk's `new-rule` is the model) — the rule's file with its
//! unit tests, its registration in the group's `RULES`, its failing fixture directory and its
//! trybuild case. The scaffold compiles; its tests and fixture fail until the rule is written,
//! which is the point: a rule is done when they pass.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

const GROUPS: [&str; 4] = ["postgres", "mysql", "common", "compat"];

pub const HELP: &str =
    "cargo xtask new-rule <rule-id> --group postgres|mysql|common|compat [--severity error|warning]

Scaffolds a rule: codegen/src/rules/<group>/<rule_id>.rs (the rule and its unit tests), its
registration in the group's RULES, tests/fixtures/rules/<rule-id>/ (the failing fixture every
rule has) and tests/ui/rules/<rule_id>.rs (its trybuild case). Then: write `check`, put the unsafe
statement in the fixture and the tests, `cargo xtask readme`, and
`TRYBUILD=overwrite cargo test --test derive_ui` to record the diagnostic (review it).";

/// What to scaffold.
#[derive(Debug)]
pub struct NewRule {
    pub id: String,
    pub group: String,
    pub severity: &'static str,
}

impl NewRule {
    pub fn parse(args: &[String]) -> Result<NewRule> {
        let mut id = None;
        let mut group = None;
        let mut severity = "Error";
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--group" => group = it.next().cloned(),
                "--severity" => {
                    severity = match it.next().map(String::as_str) {
                        Some("error") => "Error",
                        Some("warning") => "Warning",
                        other => bail!("--severity takes error or warning, not {other:?}"),
                    }
                }
                "--root" => {
                    it.next();
                }
                s if s.starts_with('-') => bail!("unknown option `{s}`\n\n{HELP}"),
                s => id = Some(s.to_string()),
            }
        }
        let Some(id) = id else {
            bail!("name the rule\n\n{HELP}")
        };
        let valid = id.starts_with(|c: char| c.is_ascii_lowercase())
            && !id.ends_with('-')
            && !id.contains("--")
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid {
            bail!("`{id}` is not a rule id: lowercase words joined by `-`, like `index-not-concurrent`");
        }
        let Some(group) = group else {
            bail!("--group is required: one of {}", GROUPS.join(", "))
        };
        if !GROUPS.contains(&group.as_str()) {
            bail!("unknown group `{group}`: one of {}", GROUPS.join(", "));
        }
        Ok(NewRule {
            id,
            group,
            severity,
        })
    }

    fn module(&self) -> String {
        self.id.replace('-', "_")
    }

    fn mysql(&self) -> bool {
        self.group == "mysql"
    }
}

/// The repository root: `--root DIR` (tests), else this workspace.
fn root(args: &[String]) -> PathBuf {
    match args.iter().position(|a| a == "--root") {
        Some(i) => PathBuf::from(&args[i + 1]),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
    }
}

pub fn run(args: &[String]) -> Result<()> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{HELP}");
        return Ok(());
    }
    let rule = NewRule::parse(args)?;
    let written = scaffold(&root(args), &rule)?;
    println!("scaffolded `{}`:", rule.id);
    for path in written {
        println!("  {}", path.display());
    }
    println!("next: write `check`, fill the fixture and the tests (they fail until then), `cargo xtask readme`, `TRYBUILD=overwrite cargo test --test derive_ui`");
    Ok(())
}

/// Writes the rule's files and registers it; refuses an id that exists. Returns what it wrote.
pub fn scaffold(root: &Path, rule: &NewRule) -> Result<Vec<PathBuf>> {
    let group_dir = root.join("codegen/src/rules").join(&rule.group);
    let registry = group_dir.join("mod.rs");
    let module = rule.module();
    let rule_file = group_dir.join(format!("{module}.rs"));
    let fixture = root.join("tests/fixtures/rules").join(&rule.id);
    // Its safe counterpart, which the version matrix traces beside it.
    let safe_fixture = root.join("tests/fixtures/rules_safe").join(&rule.id);
    let ui_dir = root.join("tests/ui/rules");
    let ui_case = ui_dir.join(format!("{module}.rs"));
    for path in [&rule_file, &fixture, &safe_fixture, &ui_case] {
        if path.exists() {
            bail!("`{}` exists already: pick another id", path.display());
        }
    }
    let all_rules = root.join("codegen/src/rules");
    for group in GROUPS {
        let text = std::fs::read_to_string(all_rules.join(group).join("mod.rs"))
            .with_context(|| format!("reading the {group} rules' registry"))?;
        if text.contains(&format!("pub mod {module};")) {
            bail!("a rule module `{module}` is registered in {group} already");
        }
    }
    let registered = register(
        &std::fs::read_to_string(&registry)
            .with_context(|| format!("reading {}", registry.display()))?,
        &module,
    )
    .with_context(|| format!("registering the rule in {}", registry.display()))?;

    std::fs::write(&rule_file, rule_source(rule))?;
    std::fs::write(&registry, registered)?;
    let base = fixture.join("0001_base");
    let unsafe_dir = fixture.join(format!("0002_{module}"));
    std::fs::create_dir_all(&base)?;
    std::fs::create_dir_all(&unsafe_dir)?;
    let (dialect, server) = if rule.mysql() {
        ("mariadb", "10.11")
    } else {
        ("postgres", "14")
    };
    std::fs::write(
        fixture.join("concertina.toml"),
        format!("dialect = \"{dialect}\"\nserver_version = \"{server}\"\nbaseline = \"0001\"\n"),
    )?;
    std::fs::write(base.join("expand.sql"), setup_sql(rule))?;
    std::fs::write(
        unsafe_dir.join("expand.sql"),
        format!(
            "-- TODO: the unsafe statement `{}` must report (tests/rule_fixtures.rs fails until it does).\n",
            rule.id
        ),
    )?;
    let safe_dir = safe_fixture.join(format!("0002_{module}"));
    std::fs::create_dir_all(safe_fixture.join("0001_base"))?;
    std::fs::create_dir_all(&safe_dir)?;
    std::fs::copy(
        fixture.join("concertina.toml"),
        safe_fixture.join("concertina.toml"),
    )?;
    std::fs::write(safe_fixture.join("0001_base/expand.sql"), setup_sql(rule))?;
    std::fs::write(
        safe_dir.join("expand.sql"),
        format!(
            "-- TODO: the same change written the way the recipe of `{}` says (tests/rule_fixtures.rs\n\
             -- requires it to pass without that rule; `cargo xtask matrix` traces it).\n",
            rule.id
        ),
    )?;
    std::fs::create_dir_all(&ui_dir)?;
    std::fs::write(
        &ui_case,
        format!(
            "// `{id}` through the derive: its failing fixture does not compile (a warning-level finding\n\
             // fails too here, under `deny(deprecated)`, so that its text is recorded).\n\
             #![deny(deprecated)]\n\n\
             #[derive(concertina::Migration)]\n\
             #[migration(dir = \"tests/fixtures/rules/{id}\", types = false)]\n\
             pub struct Db;\n\n\
             fn main() {{}}\n",
            id = rule.id
        ),
    )?;
    Ok(vec![rule_file, registry, fixture, safe_fixture, ui_case])
}

fn setup_sql(rule: &NewRule) -> &'static str {
    if rule.mysql() {
        "CREATE TABLE users (id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, email varchar(100) NULL) ENGINE=InnoDB;\n"
    } else {
        "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n"
    }
}

/// The registry with `pub mod <module>;` among the others (sorted) and the rule last in RULES.
fn register(registry: &str, module: &str) -> Result<String> {
    let mut lines: Vec<String> = registry.lines().map(str::to_string).collect();
    let mods: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("pub mod "))
        .collect();
    let Some(&last_mod) = mods.last() else {
        bail!("no `pub mod` lines");
    };
    let at = mods
        .iter()
        .copied()
        .find(|&i| lines[i].as_str() > format!("pub mod {module};").as_str())
        .unwrap_or(last_mod + 1);
    lines.insert(at, format!("pub mod {module};"));
    let start = lines
        .iter()
        .position(|l| l.starts_with("pub static RULES"))
        .context("no `pub static RULES` array")?;
    let end = (start..lines.len())
        .find(|&i| lines[i].trim() == "];")
        .context("the RULES array does not end with `];`")?;
    lines.insert(end, format!("    &{module}::RULE,"));
    let mut out = lines.join("\n");
    out.push('\n');
    Ok(out)
}

fn rule_source(rule: &NewRule) -> String {
    let (hits, setup) = if rule.mysql() {
        ("mysql_hits", setup_sql(rule).trim_end())
    } else {
        ("expand_hits", setup_sql(rule).trim_end())
    };
    format!(
        r#"//! `{id}`: TODO — what the rule finds and why it is unsafe on a busy table, with the
//! measurement behind the claim (server, version, what was observed).

use crate::diag::Severity;
use crate::rules::{{Findings, Rule, StatementCtx}};

pub static RULE: Rule = Rule {{
    id: "{id}",
    severity: Severity::{severity},
    summary: "TODO: what the rule finds, in a few words",
    help: "TODO: the recipe (what to do in expand, backfill and contract instead)",
    check,
    // A mechanical rewrite into the recipe (`cargo xtask migrate fix`), or None.
    fix: None,
}};

fn check(ctx: &StatementCtx, out: &mut Findings) {{
    // TODO: match `ctx.change` (the statement's `Change`), look at `ctx.schema` (the model
    // before it) and report with `out.report(message)`.
    let _ = (ctx, out);
}}

#[cfg(test)]
mod tests {{
    use crate::rules::testing::{hits};

    const SETUP: &str = "{setup}";
    const ID: &str = "{id}";

    /// Fails until the rule is written: put the unsafe statement here.
    #[test]
    fn flags_the_unsafe_statement() {{
        let found = {hits}(SETUP, "TODO: the unsafe statement;", ID);
        assert_eq!(found.len(), 1, "{{found:?}}");
    }}

    #[test]
    fn quiet_on_the_safe_form() {{
        assert!({hits}(SETUP, "SELECT 1;", ID).is_empty());
    }}
}}
"#,
        id = rule.id,
        severity = rule.severity,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// A copy of the parts of the tree the scaffold touches.
    fn tree() -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!("concertina-new-rule-{nanos}"));
        let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for group in GROUPS {
            let to = dir.join("codegen/src/rules").join(group);
            std::fs::create_dir_all(&to).expect("mkdir");
            std::fs::copy(
                real.join("codegen/src/rules").join(group).join("mod.rs"),
                to.join("mod.rs"),
            )
            .expect("copy registry");
        }
        std::fs::create_dir_all(dir.join("tests/fixtures/rules")).expect("mkdir");
        dir
    }

    #[test]
    fn scaffolds_the_file_registration_fixture_and_trybuild_case() {
        let dir = tree();
        let rule = NewRule::parse(&args(&["drop-everything", "--group", "common"])).expect("args");
        let written = scaffold(&dir, &rule).expect("scaffold");
        assert_eq!(written.len(), 5);
        let safe = dir.join("tests/fixtures/rules_safe/drop-everything");
        assert!(safe.join("0002_drop_everything/expand.sql").exists());
        assert_eq!(
            std::fs::read_to_string(safe.join("concertina.toml")).expect("safe config"),
            std::fs::read_to_string(
                dir.join("tests/fixtures/rules/drop-everything/concertina.toml")
            )
            .expect("config")
        );
        let source =
            std::fs::read_to_string(dir.join("codegen/src/rules/common/drop_everything.rs"))
                .expect("rule file");
        assert!(source.contains("id: \"drop-everything\""), "{source}");
        assert!(source.contains("Severity::Error"));
        assert!(source.contains("fix: None,"), "{source}");
        let registry =
            std::fs::read_to_string(dir.join("codegen/src/rules/common/mod.rs")).expect("mod.rs");
        assert!(registry.contains("pub mod drop_everything;"), "{registry}");
        let rules_at = registry.find("pub static RULES").expect("RULES");
        assert!(registry[rules_at..].contains("    &drop_everything::RULE,\n];"));
        // `pub mod` lines stay sorted.
        let mods: Vec<&str> = registry
            .lines()
            .filter(|l| l.starts_with("pub mod "))
            .collect();
        let mut sorted = mods.clone();
        sorted.sort();
        assert_eq!(mods, sorted);
        let fixture = dir.join("tests/fixtures/rules/drop-everything");
        assert!(fixture.join("0001_base/expand.sql").is_file());
        assert!(fixture.join("0002_drop_everything/expand.sql").is_file());
        assert!(std::fs::read_to_string(fixture.join("concertina.toml"))
            .expect("toml")
            .contains("dialect = \"postgres\""));
        let case = std::fs::read_to_string(dir.join("tests/ui/rules/drop_everything.rs"))
            .expect("ui case");
        assert!(case.contains("tests/fixtures/rules/drop-everything"));
        // Twice is refused, naming what exists.
        let err = scaffold(&dir, &rule).expect_err("exists").to_string();
        assert!(err.contains("exists already"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn mysql_rules_get_a_mariadb_fixture_and_warning_severity() {
        let dir = tree();
        let rule = NewRule::parse(&args(&[
            "mysql-something",
            "--group",
            "mysql",
            "--severity",
            "warning",
        ]))
        .expect("args");
        scaffold(&dir, &rule).expect("scaffold");
        let source =
            std::fs::read_to_string(dir.join("codegen/src/rules/mysql/mysql_something.rs"))
                .expect("rule file");
        assert!(source.contains("Severity::Warning") && source.contains("mysql_hits"));
        assert!(std::fs::read_to_string(
            dir.join("tests/fixtures/rules/mysql-something/concertina.toml")
        )
        .expect("toml")
        .contains("mariadb"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn bad_input_is_refused_with_the_reason() {
        for (list, says) in [
            (&["Bad_Name", "--group", "common"][..], "not a rule id"),
            (&["ok-name"][..], "--group is required"),
            (&["ok-name", "--group", "oracle"][..], "unknown group"),
            (&["--group", "common"][..], "name the rule"),
            (
                &["ok-name", "--group", "common", "--severity", "fatal"][..],
                "--severity",
            ),
        ] {
            let err = NewRule::parse(&args(list))
                .expect_err("refused")
                .to_string();
            assert!(err.contains(says), "{list:?}: {err}");
        }
        // An id whose module is registered already (in any group) is refused.
        let dir = tree();
        let rule = NewRule::parse(&args(&["truncate-table", "--group", "postgres"])).expect("args");
        let err = scaffold(&dir, &rule).expect_err("registered").to_string();
        assert!(err.contains("registered in common already"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
