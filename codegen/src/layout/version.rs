//! Migration versions as diesel_migrations reads them, and the two orders migrations run in.
//!
//! diesel takes everything before the first `_` of a directory name and removes its dashes
//! (`migrations_internals::version_from_string`): `2025-11-19-091444-0000_x` is version
//! `202511190914440000`, `2020-12-7-190800_x` is `2020127190800`. Its `MigrationVersion`
//! compares as a string, so diesel runs `2020-12-10-…` before `2020-12-7-…` and `10_x` before
//! `9_x`. concertina replays a directory holding diesel migrations in that order (it is the
//! order diesel applied them in); a directory of concertina migrations only keeps comparing
//! versions as numbers, as it always did.

use std::cmp::Ordering;

/// The longest version, dashes removed: diesel's `__diesel_schema_migrations.version` is a
/// `VARCHAR(50)`, so diesel cannot record a longer one.
pub const MAX_VERSION_DIGITS: usize = 50;

/// The order migrations of a directory run in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionOrder {
    /// Versions compared as numbers, dashes removed (`9_x` before `10_y`; `0003` and `3` are
    /// the same version). A directory without any diesel migration.
    Numeric,
    /// diesel's order: versions compared as text, dashes removed (`10_y` before `9_x`;
    /// `0003` and `3` are two versions). A directory holding a diesel migration (`up.sql`).
    Diesel,
}

impl VersionOrder {
    /// Compares two versions as written in directory names.
    pub fn compare(self, a: &str, b: &str) -> Ordering {
        let (a, b) = (diesel_version(a), diesel_version(b));
        match self {
            VersionOrder::Diesel => a.cmp(&b),
            VersionOrder::Numeric => {
                let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
                a.len().cmp(&b.len()).then_with(|| a.cmp(b))
            }
        }
    }

    /// The version two directories share when [`compare`](Self::compare) finds them equal,
    /// in the words of this order (diesel's reading, or the number).
    pub fn shown(self, version: &str) -> String {
        let digits = diesel_version(version);
        match self {
            VersionOrder::Diesel => digits,
            VersionOrder::Numeric => {
                let trimmed = digits.trim_start_matches('0');
                if trimmed.is_empty() { "0" } else { trimmed }.to_string()
            }
        }
    }
}

/// The version diesel records for a directory whose name starts with `version`: its dashes
/// removed.
pub fn diesel_version(version: &str) -> String {
    version.chars().filter(|c| *c != '-').collect()
}

/// What is wrong with a directory name, in words that follow "is not a migration directory
/// name: ".
pub(crate) fn check_version(version: &str) -> Result<(), String> {
    if version.is_empty() {
        return Err("nothing comes before the `_` that ends the version".into());
    }
    if let Some(c) = version.chars().find(|c| !c.is_ascii_digit() && *c != '-') {
        return Err(format!(
            "its version `{version}` holds `{c}`; a version is digits, with dashes if you like (diesel would take `{}` as a version, concertina refuses it so that a folder that is no migration is never run as one)",
            diesel_version(version)
        ));
    }
    let digits = diesel_version(version).len();
    if digits == 0 {
        return Err(format!("its version `{version}` has no digit"));
    }
    if digits > MAX_VERSION_DIGITS {
        return Err(format!(
            "its version has {digits} digits, over {MAX_VERSION_DIGITS} (diesel records versions in a VARCHAR(50) and refuses longer ones when it runs the migration)"
        ));
    }
    Ok(())
}

/// Splits `<version>_<name>` at the first `_`, as diesel does.
pub(crate) fn split_dir_name(dir_name: &str) -> Result<(&str, &str), String> {
    let Some((version, name)) = dir_name.split_once('_') else {
        return Err("it has no `_` between the version and the name".into());
    };
    check_version(version)?;
    if name.is_empty() {
        return Err("the name after the version's `_` is empty".into());
    }
    Ok((version, name))
}

/// The number a version's digits make, dashes removed (`0002` → 2, `2024-01-31-120000` →
/// 20240131120000, `2020-12-7-190800` → 2020127190800); `None` for what is not a version or
/// does not fit in a `u128` (over 38 digits).
///
/// This is **not** the order migrations run in when the directory holds diesel migrations
/// (see [`VersionOrder`]): use positions in [`super::MigrationSet::migrations`] and
/// [`super::MigrationSet::position`] to compare migrations.
pub fn version_order(version: &str) -> Option<u128> {
    check_version(version).ok()?;
    diesel_version(version).parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diesel_versions_are_the_digits() {
        assert_eq!(
            diesel_version("2025-11-19-091444-0000"),
            "202511190914440000"
        );
        assert_eq!(diesel_version("2020-12-7-190800"), "2020127190800");
        assert_eq!(diesel_version("0002"), "0002");
        assert_eq!(version_order("0002"), Some(2));
        assert_eq!(version_order("2024-01-31-120000"), Some(20240131120000));
        assert_eq!(version_order("2020-12-7-190800"), Some(2020127190800));
        assert_eq!(version_order("00x2"), None);
        assert_eq!(version_order(""), None);
        assert_eq!(version_order("--"), None);
        assert_eq!(version_order(&"9".repeat(39)), None);
    }

    #[test]
    fn dir_names_split_at_the_first_underscore() {
        assert_eq!(split_dir_name("0002_add_email"), Ok(("0002", "add_email")));
        assert_eq!(
            split_dir_name("2025-11-19-091444-0000_add_trustpub_only_to_crates"),
            Ok(("2025-11-19-091444-0000", "add_trustpub_only_to_crates"))
        );
        assert_eq!(
            split_dir_name("2020-12-7-190800_subgraph_error_changes"),
            Ok(("2020-12-7-190800", "subgraph_error_changes"))
        );
        assert_eq!(
            split_dir_name("00000000000000_diesel_initial_setup"),
            Ok(("00000000000000", "diesel_initial_setup"))
        );
        for bad in [
            "0002-add_email",
            "0002_",
            "_add",
            "-_add",
            "add_email",
            "v1_init",
            "0002",
            "00O2_add",
        ] {
            assert!(split_dir_name(bad).is_err(), "{bad}");
        }
        let fifty = "1".repeat(50);
        assert!(split_dir_name(&format!("{fifty}_ok")).is_ok());
        let err = split_dir_name(&format!("{fifty}1_long")).unwrap_err();
        assert!(err.contains("51 digits"), "{err}");
        let err = split_dir_name("v1_init").unwrap_err();
        assert!(err.contains("`v`"), "{err}");
    }

    #[test]
    fn diesel_order_is_text_order_numeric_is_numbers() {
        let d = VersionOrder::Diesel;
        assert_eq!(
            d.compare("2020-12-10-090000", "2020-12-7-190800"),
            Ordering::Less
        );
        assert_eq!(d.compare("10", "9"), Ordering::Less);
        assert_eq!(d.compare("0003", "3"), Ordering::Less);
        assert_eq!(
            d.compare("2024-01-01-000000", "20240101000000"),
            Ordering::Equal
        );
        assert_eq!(
            d.compare("2025-11-19-091444", "2025-11-19-091444-0000"),
            Ordering::Less
        );
        let n = VersionOrder::Numeric;
        assert_eq!(n.compare("9", "10"), Ordering::Less);
        assert_eq!(n.compare("0003", "3"), Ordering::Equal);
        assert_eq!(n.compare("0", "000"), Ordering::Equal);
        assert_eq!(n.compare(&"9".repeat(45), &"1".repeat(46)), Ordering::Less);
        assert_eq!(n.shown("0003"), "3");
        assert_eq!(n.shown("000"), "0");
        assert_eq!(d.shown("2024-01-01-000000"), "20240101000000");
    }
}
