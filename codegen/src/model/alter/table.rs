//! ALTER TABLE actions on the table as a whole: rename (what follows it: indexes, triggers,
//! foreign keys, partitions, views) and MySQL's character set changes.

use std::sync::Arc;

use crate::change::{ConstraintKind, QualName};

use super::super::Schema;

/// Most bytes a character takes in a MySQL character set (4 when unknown).
fn mysql_charset_bytes(charset: &str) -> u64 {
    match charset
        .trim_matches(['`', '\'', '"'])
        .to_lowercase()
        .as_str()
    {
        "latin1" | "ascii" | "binary" | "latin2" | "cp1250" | "cp1251" | "cp1252" => 1,
        "ucs2" | "gbk" | "big5" | "sjis" | "cp932" => 2,
        "utf8" | "utf8mb3" | "ujis" | "eucjpms" | "gb2312" => 3,
        _ => 4,
    }
}

impl Schema {
    /// `RENAME TO` / `SET SCHEMA`; returns the table's new name.
    pub(super) fn rename_table(&mut self, table_name: &QualName, to: &QualName) -> QualName {
        if let Some(table) = self.tables.remove(table_name) {
            let mut table = Arc::unwrap_or_clone(table);
            let to = QualName::new(
                if to.schema.is_empty() {
                    table_name.schema.clone()
                } else {
                    to.schema.clone()
                },
                to.name.clone(),
            );
            table.name = to.clone();
            for idx in self.indexes.values_mut() {
                if &idx.table == table_name {
                    Arc::make_mut(idx).table = to.clone();
                }
            }
            self.names_follow_table_rename(table_name, &to, &mut table);
            // `SET SCHEMA` moves the table's indexes along.
            if to.schema != table_name.schema {
                let moved: Vec<QualName> = self
                    .indexes
                    .values()
                    .filter(|i| i.table == to)
                    .map(|i| i.name.clone())
                    .collect();
                for from in moved {
                    let new = QualName::new(to.schema.clone(), from.name.clone());
                    self.rename_index(&from, &new);
                }
            }
            for t in &mut self.triggers {
                if &t.table == table_name {
                    t.table = to.clone();
                }
            }
            // Foreign keys, partitions and views follow the table by identity.
            for t in self.tables.values_mut() {
                let refers = t.partition_of.as_ref() == Some(table_name)
                    || t.constraints.iter().any(|c| {
                        matches!(&c.kind, ConstraintKind::ForeignKey { ref_table, .. } if ref_table == table_name)
                    });
                if refers {
                    let t = Arc::make_mut(t);
                    if t.partition_of.as_ref() == Some(table_name) {
                        t.partition_of = Some(to.clone());
                    }
                    for c in &mut t.constraints {
                        if let ConstraintKind::ForeignKey { ref_table, .. } = &mut c.kind {
                            if ref_table == table_name {
                                *ref_table = to.clone();
                            }
                        }
                    }
                }
            }
            for v in self.views.values_mut() {
                if v.reads.contains(table_name) {
                    for r in &mut Arc::make_mut(v).reads {
                        if r == table_name {
                            *r = to.clone();
                        }
                    }
                }
            }
            self.tables.insert(to.clone(), Arc::new(table));
            return to;
        }
        table_name.clone()
    }

    /// Every text column takes the new character set, which becomes the table default; a
    /// TEXT type grows to hold as many characters as before (`text` in `utf8mb3` →
    /// `mediumtext` in `utf8mb4`), a VARCHAR keeps its length in characters.
    pub(super) fn convert_charset(&mut self, table_name: &QualName, charset: &str) {
        let Some(table) = self.table_mut(table_name) else {
            return;
        };
        const TEXTS: [(&str, u64); 4] = [
            ("tinytext", 255),
            ("text", 65_535),
            ("mediumtext", 16_777_215),
            ("longtext", 4_294_967_295),
        ];
        let table_default = table.charset.clone();
        let new_bytes = mysql_charset_bytes(charset);
        for c in &mut table.columns {
            if let Some(at) = TEXTS.iter().position(|(n, _)| *n == c.ty.name) {
                let old = c
                    .charset
                    .clone()
                    .or_else(|| {
                        c.collation
                            .as_ref()
                            .and_then(|k| k.split('_').next().map(str::to_string))
                    })
                    .or_else(|| table_default.clone())
                    .unwrap_or_else(|| "utf8mb4".into());
                let chars = TEXTS[at].1 / mysql_charset_bytes(&old);
                if let Some((name, _)) = TEXTS[at..]
                    .iter()
                    .find(|(_, bytes)| chars.saturating_mul(new_bytes) <= *bytes)
                {
                    c.ty.name = (*name).to_string();
                }
            }
            c.charset = None;
            c.collation = None;
        }
        table.charset = Some(charset.to_string());
    }

    /// The table's default character set; existing text columns keep the one they have.
    pub(super) fn default_charset(&mut self, table_name: &QualName, charset: &str) {
        let Some(table) = self.table_mut(table_name) else {
            return;
        };
        let old = table.charset.clone().unwrap_or_else(|| "utf8mb4".into());
        for c in &mut table.columns {
            let text = matches!(
                c.ty.name.as_str(),
                "char"
                    | "varchar"
                    | "tinytext"
                    | "text"
                    | "mediumtext"
                    | "longtext"
                    | "enum"
                    | "set"
            );
            if text && c.charset.is_none() && c.collation.is_none() {
                c.charset = Some(old.clone());
            }
        }
        table.charset = Some(charset.to_string());
    }
}
