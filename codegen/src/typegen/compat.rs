//! `RunsOn`: which schema version's code may run on which database state (DESIGN.md §2's
//! compatibility relation, decided on the generated types): every table and column the app
//! reads exists with the same type (nullable or not: see `compatible`); every
//! column the database requires on insert is one the app's inserts always write; enums have
//! the same labels (a label the app does not know fails to decode).

use std::sync::Arc;

use proc_macro2::TokenStream;
use quote::quote;

use super::{path_tokens, ModPath};
use crate::model::Schema;

/// Versions further apart than this in the sequence get no impl: an app spans a few versions,
/// and the relation is quadratic.
const REACH: usize = 4;

pub fn compatible(app: &Schema, db: &Schema) -> bool {
    for (name, t) in &app.tables {
        if t.partition_of.is_some() {
            continue;
        }
        let Some(d) = db.table(name) else {
            return false;
        };
        for c in &t.columns {
            match d.column(&c.name) {
                // A column the database made nullable still reads: only the next version
                // leaves it NULL, and the phases retire the old app before that one ships.
                Some(dc) if dc.ty == c.ty => {}
                _ => return false,
            }
        }
        for dc in &d.columns {
            if dc.insert_requires() && !t.column(&dc.name).is_some_and(|c| c.insert_requires()) {
                return false;
            }
        }
    }
    app.enums
        .iter()
        .all(|(name, labels)| db.enums.get(name).is_none_or(|l| l == labels))
}

/// `impl RunsOn<db::Version> for app::Version` for every compatible pair within reach.
pub fn runs_on(sequence: &[(ModPath, Arc<Schema>)]) -> TokenStream {
    let mut impls = Vec::new();
    for (i, (app_path, app)) in sequence.iter().enumerate() {
        let lo = i.saturating_sub(REACH);
        let hi = (i + REACH).min(sequence.len().saturating_sub(1));
        for (db_path, db) in &sequence[lo..=hi] {
            if Arc::ptr_eq(app, db) || compatible(app, db) {
                let a = path_tokens(0, app_path);
                let d = path_tokens(0, db_path);
                impls.push(quote!(impl ::concertina::RunsOn<#d::Version> for #a::Version {}));
            }
        }
    }
    quote!(#(#impls)*)
}
