//! `migrate rehearse`: the project's pending migrations on production-like data, under an app
//! workload derived from the generated row types, on a throwaway server or a database of its
//! own — never the production database. Reports per phase what the app felt, what the tracer
//! saw and whether each `down` restores the schema.

pub mod html;
pub mod report;
