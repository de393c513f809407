//! `procedural-outside-block`: a PL/pgSQL statement (`RAISE`, `PERFORM`, `ASSERT`,
//! `GET DIAGNOSTICS`, `RETURN`, `IF`/`LOOP`/`END IF`, `EXECUTE '…'`) written at the top level of
//! a migration file. These are statements of the procedural language, valid only inside a `DO`
//! block or a function body; the server refuses them as SQL (a syntax error), so the migration
//! stops there. Recognised on PostgreSQL only (`sql::forms::procedural_outside_block`): MySQL's
//! procedural statements are written inside `DELIMITER` blocks, which are kept whole.

use crate::change::Change;
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "procedural-outside-block",
    severity: Severity::Error,
    summary: "a PL/pgSQL statement (`RAISE`, `PERFORM`, `ASSERT`, …) outside a `DO` block or function body: the server refuses it",
    help: "wrap it in an anonymous block: `DO $$ BEGIN RAISE NOTICE '…'; END $$;`, or move it into the function body it belongs to",
    check,
    fix: None,
};

/// Statement text short enough to quote whole in the recipe.
const QUOTE_LIMIT: usize = 120;

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Change::ProceduralOutsideBlock { what } = ctx.change else {
        return;
    };
    let message = format!(
        "`{what}` outside a `DO` block or function body: it is a PL/pgSQL statement, not SQL, so the server refuses it (syntax error) and the migration stops here"
    );
    let text = ctx.text().trim();
    if text.len() <= QUOTE_LIMIT && !text.contains("$$") && !text.contains('\n') {
        out.report_with_help(
            message,
            format!("wrap it in an anonymous block: `DO $$ BEGIN {text}; END $$;`, or move it into the function body it belongs to"),
        );
    } else {
        out.report(message);
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, mysql_hits, Case};

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email text);";
    const ID: &str = "procedural-outside-block";

    #[test]
    fn fires_at_the_top_level() {
        let sql = "raise notice 'starting';\nALTER TABLE users ADD COLUMN note text;\nRAISE EXCEPTION 'stop: %', 1;\nPERFORM pg_sleep(1);";
        let h = expand_hits(SETUP, sql, ID);
        assert_eq!(
            h.iter().map(|d| d.line).collect::<Vec<_>>(),
            [1, 3, 4],
            "{h:?}"
        );
        assert!(h.iter().all(|d| d.is_error()));
        assert!(
            h[0].message
                .starts_with("`RAISE NOTICE` outside a `DO` block"),
            "{}",
            h[0].message
        );
        assert!(h[2].message.starts_with("`PERFORM`"), "{}", h[2].message);
        assert_eq!(
            h[0].help,
            "wrap it in an anonymous block: `DO $$ BEGIN raise notice 'starting'; END $$;`, or move it into the function body it belongs to"
        );
        // No unparsed warning besides: the statement is understood.
        let all = Case::pg(SETUP, &[(Phase::Expand, sql)]).run();
        assert!(
            all.iter().all(|d| d.rule != "unparsed-statement"),
            "{all:?}"
        );
    }

    #[test]
    fn fires_in_every_phase_without_other_findings() {
        for phase in [Phase::Expand, Phase::Backfill, Phase::Contract, Phase::Down] {
            let all = Case::pg(SETUP, &[(phase, "PERFORM 1;")]).run();
            let rules: Vec<&str> = all.iter().map(|d| d.rule.as_str()).collect();
            assert_eq!(rules, [ID], "{phase:?}");
        }
    }

    #[test]
    fn quiet_inside_do_blocks_and_function_bodies() {
        let sql = "DO $$ BEGIN RAISE NOTICE 'x'; PERFORM 1; END $$;\nCREATE FUNCTION note_it() RETURNS trigger LANGUAGE plpgsql AS $body$\nBEGIN\n  RAISE NOTICE 'changed %', NEW.id;\n  PERFORM pg_notify('users', NEW.id::text);\n  RETURN NEW;\nEND\n$body$;";
        let h = expand_hits(SETUP, sql, ID);
        assert!(h.is_empty(), "{h:?}");
    }

    #[test]
    fn quiet_for_mysql_procedures() {
        let sql = "DELIMITER //\nCREATE PROCEDURE check_users()\nBEGIN\n  IF (SELECT COUNT(*) FROM users) = 0 THEN\n    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'empty';\n  END IF;\nEND //\nDELIMITER ;\nDO RELEASE_LOCK('users');";
        let setup = "CREATE TABLE users (id bigint PRIMARY KEY);";
        let h = mysql_hits(setup, sql, ID);
        assert!(h.is_empty(), "{h:?}");
    }

    #[test]
    fn suppressed_with_a_reason() {
        let sql = "-- concertina:allow(procedural-outside-block): run by psql with a plpgsql shim\nPERFORM 1;";
        let all = Case::pg(SETUP, &[(Phase::Expand, sql)]).run();
        assert!(
            all.iter().all(|d| d.rule != ID && d.rule != "unused-allow"),
            "{all:?}"
        );
    }
}
