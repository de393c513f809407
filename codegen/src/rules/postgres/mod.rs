//! postgres rules: one per file, tests beside each.

pub mod add_check_validating;
pub mod add_column_default_old_server;
pub mod add_column_generated_stored;
pub mod add_column_inline_constraint;
pub mod add_column_serial_or_identity;
pub mod add_column_volatile_default;
pub mod add_exclusion_constraint;
pub mod add_foreign_key_validating;
pub mod add_unique_constraint_building_index;
pub mod attach_partition_scan;
pub mod column_type_rewrite;
pub mod concurrently_in_transaction;
pub mod create_trigger_or_rule;
pub mod detach_partition_blocking;
pub mod domain_constraint_validating;
pub mod drop_index_not_concurrent;
pub mod enum_value_in_transaction;
pub mod feature_newer_than_server;
pub mod function_used_by_index_changed;
pub mod index_not_concurrent;
pub mod index_on_partitioned_table;
pub mod json_column;
pub mod lock_table;
pub mod refresh_matview_blocking;
pub mod reindex_not_concurrent;
pub mod set_not_null_unproven;
pub mod table_rewrite_maintenance;
pub mod validate_in_same_transaction;

use super::Rule;

pub static RULES: &[&Rule] = &[
    &index_not_concurrent::RULE,
    &index_on_partitioned_table::RULE,
    &drop_index_not_concurrent::RULE,
    &reindex_not_concurrent::RULE,
    &concurrently_in_transaction::RULE,
    &add_column_volatile_default::RULE,
    &add_column_default_old_server::RULE,
    &add_column_serial_or_identity::RULE,
    &add_column_generated_stored::RULE,
    &add_column_inline_constraint::RULE,
    &column_type_rewrite::RULE,
    &set_not_null_unproven::RULE,
    &add_check_validating::RULE,
    &add_foreign_key_validating::RULE,
    &validate_in_same_transaction::RULE,
    &add_unique_constraint_building_index::RULE,
    &add_exclusion_constraint::RULE,
    &attach_partition_scan::RULE,
    &detach_partition_blocking::RULE,
    &table_rewrite_maintenance::RULE,
    &refresh_matview_blocking::RULE,
    &lock_table::RULE,
    &create_trigger_or_rule::RULE,
    &enum_value_in_transaction::RULE,
    &function_used_by_index_changed::RULE,
    &domain_constraint_validating::RULE,
    &json_column::RULE,
    &feature_newer_than_server::RULE,
];
