//! common rules: one per file, tests beside each.

pub mod backfill_table_without_key;
pub mod data_change_outside_backfill;
pub mod ddl_and_data_in_one_transaction;
pub mod ddl_in_backfill;
pub mod procedural_outside_block;
pub mod truncate_table;
pub mod unbatched_data_change;

use super::Rule;

pub static RULES: &[&Rule] = &[
    &truncate_table::RULE,
    &unbatched_data_change::RULE,
    &data_change_outside_backfill::RULE,
    &ddl_and_data_in_one_transaction::RULE,
    &ddl_in_backfill::RULE,
    &backfill_table_without_key::RULE,
    &procedural_outside_block::RULE,
];
