//! What differs between servers, each behind the cargo feature of its name: a PostgreSQL-only
//! build links no MySQL client library, and the reverse.

#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "postgres")]
pub mod postgres;

mod state_sql;
