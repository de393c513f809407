//! compat rules: one per file, tests beside each.

pub mod compat_column_removed;
pub mod compat_constraint_in_expand;
pub mod compat_contract_needs_data;
pub mod compat_enum_value_added;
pub mod compat_enum_value_removed;
pub mod compat_not_null_in_expand;
pub mod compat_old_required_unwritten;
pub mod compat_required_column_added;
pub mod compat_table_removed;
pub mod compat_type_changed;
pub mod contract_in_expand;
pub mod drop_still_referenced;

use super::Rule;

pub static RULES: &[&Rule] = &[
    &compat_column_removed::RULE,
    &compat_table_removed::RULE,
    &compat_required_column_added::RULE,
    &compat_not_null_in_expand::RULE,
    &compat_constraint_in_expand::RULE,
    &compat_type_changed::RULE,
    &compat_old_required_unwritten::RULE,
    &compat_enum_value_removed::RULE,
    &compat_enum_value_added::RULE,
    &compat_contract_needs_data::RULE,
    &contract_in_expand::RULE,
    &drop_still_referenced::RULE,
];
