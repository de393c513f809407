//! A file's rewrite as a unified diff (`--- a/…`, `+++ b/…`, `/dev/null` for a file created or
//! removed), what `migrate fix` prints without `--write`.

use similar::TextDiff;

pub(super) fn unified(rel_path: &str, before: Option<&str>, after: Option<&str>) -> String {
    let old = if before.is_some() {
        format!("a/{rel_path}")
    } else {
        "/dev/null".to_string()
    };
    let new = if after.is_some() {
        format!("b/{rel_path}")
    } else {
        "/dev/null".to_string()
    };
    let (before, after) = (before.unwrap_or(""), after.unwrap_or(""));
    let diff = TextDiff::from_lines(before, after);
    let mut out = diff
        .unified_diff()
        .context_radius(3)
        .header(&old, &new)
        .to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_created_file_diffs_from_dev_null() {
        let d = super::unified("0002_x/contract.sql", None, Some("SELECT 1;\n"));
        assert_eq!(
            d,
            "--- /dev/null\n+++ b/0002_x/contract.sql\n@@ -0,0 +1 @@\n+SELECT 1;\n"
        );
    }
}
