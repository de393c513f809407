//! What `#[derive(concertina::Migration)]` expands to, built here so the proc-macro crate stays
//! thin and `cargo xtask migrate check` and the compiler can never disagree: the same
//! `Project::load` + `check`, every error diagnostic turned into a `compile_error!` in rustc's
//! words, and every file of the directory included so that editing one rebuilds the crate.
//!
//! Warnings do not fail the build; each is printed by rustc as the note of a deprecated
//! constant (the only way a derive can warn on stable Rust), and `cargo xtask migrate check`
//! shows them too.

use std::path::{Path, PathBuf};

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use crate::check::Report;
use crate::source::SourceFile;
use crate::Project;

/// Finds the migrations directory: `dir` relative to the crate's manifest directory, or (under
/// trybuild's generated projects, which live below the real crate's `target/`) relative to
/// the nearest ancestor that holds it.
pub fn resolve_dir(manifest_dir: &Path, dir: &str) -> PathBuf {
    let as_given = Path::new(dir);
    if as_given.is_absolute() {
        return as_given.to_path_buf();
    }
    manifest_dir
        .ancestors()
        .map(|a| a.join(dir))
        .find(|p| p.join(crate::config::CONFIG_FILE).exists())
        .unwrap_or_else(|| manifest_dir.join(dir))
}

/// One diagnostic as rustc prints it, with the path as the user wrote the directory.
fn error_text(d: &crate::Diagnostic, dir_shown: &str, source: Option<&SourceFile>) -> String {
    let line_text = source.map(|s| s.line_text(d.line)).unwrap_or_default();
    let gutter = " ".repeat(d.line.to_string().len());
    let caret = format!(
        "{}{}",
        " ".repeat(d.column.saturating_sub(1)),
        "^".repeat(
            line_text
                .trim_end()
                .chars()
                .count()
                .saturating_sub(d.column.saturating_sub(1))
                .max(1)
        )
    );
    let note = match d.fix_note() {
        Some(note) => format!("\n{gutter} = note: {note}"),
        None => String::new(),
    };
    format!(
        "{}[{}]: {}\n{gutter}--> {}/{}:{}:{}\n{gutter} |\n{} | {}\n{gutter} | {}\n{gutter} |\n{gutter} = help: {}{note}",
        d.severity.as_str(),
        d.rule,
        d.message,
        dir_shown.trim_end_matches('/'),
        d.file,
        d.line,
        d.column,
        d.line,
        line_text,
        caret,
        d.help
    )
}

/// What `#[migration(...)]` and concertina's cargo features ask for.
pub struct DeriveOptions {
    /// `dir = "..."`, as written (relative to the crate's manifest directory).
    pub dir: String,
    /// `module = "..."`: the generated module; default: the struct's name in snake case.
    pub module: Option<String>,
    /// `types = false` turns the generated types off (the checks stay).
    pub types: bool,
    /// `versions = N`: types for the last N migrations only (`None`: all).
    pub versions: Option<usize>,
    pub features: crate::typegen::Features,
}

/// `Db` → `db`, `AppSchema` → `app_schema`.
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The expansion for `ident` with `#[migration(...)]`.
pub fn expand(ident: &Ident, options: &DeriveOptions, manifest_dir: &Path) -> TokenStream {
    let dir_shown = options.dir.as_str();
    let dir = resolve_dir(manifest_dir, dir_shown);
    if !dir.is_dir() {
        let message = format!(
            "concertina: migrations directory `{dir_shown}` not found (looked in {} and its parents); fix `#[migration(dir = \"...\")]`, a path relative to the crate's Cargo.toml",
            manifest_dir.display()
        );
        return quote! { ::core::compile_error!(#message); };
    }
    let project = match Project::load(&dir) {
        Ok(p) => p,
        Err(e) => {
            let message = format!("concertina: {e}");
            return quote! { ::core::compile_error!(#message); };
        }
    };
    let report = project.check();
    let errors: Vec<String> = report
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| error_text(d, dir_shown, report.source(&d.file)))
        .collect();
    let tracked = tracked_files(&dir, &report);
    let versions: Vec<String> = report
        .migrations
        .iter()
        .map(|m| m.dir_name.clone())
        .collect();
    let warnings = report.warnings();
    // Stable Rust lets a derive warn only through a lint: each warning becomes the note of a
    // deprecated constant the expansion uses, so `cargo build` prints it (and
    // `#![deny(deprecated)]` would make it fail). Silence one with `concertina:allow`.
    let warning_notes = report
        .diagnostics
        .iter()
        .filter(|d| !d.is_error())
        .map(|d| {
            let note = error_text(d, dir_shown, report.source(&d.file));
            // The use carries the struct's span: rustc keeps lints quiet inside code that
            // comes from another crate's macro.
            let name = Ident::new("concertina_warning", ident.span());
            quote! {
                const _: () = {
                    #[deprecated(note = #note)]
                    #[allow(non_upper_case_globals)]
                    const concertina_warning: () = ();
                    #name
                };
            }
        })
        .collect::<Vec<_>>();
    // Types only for a directory that passes: the errors above are what the user must see.
    let types = if errors.is_empty() && options.types {
        let typegen = crate::typegen::Options {
            module: options
                .module
                .clone()
                .unwrap_or_else(|| snake_case(&ident.to_string())),
            features: options.features,
            versions: options.versions,
        };
        match crate::typegen::generate(&report, &project.config, &typegen) {
            Ok(tokens) => tokens,
            Err(errors) => {
                let messages = errors.iter().map(|e| e.to_string());
                quote! { #( ::core::compile_error!(#messages); )* }
            }
        }
    } else {
        TokenStream::new()
    };
    let doc = format!(
        " {} migrations in `{dir_shown}`, checked by concertina: {} error(s), {warnings} warning(s) (`cargo xtask migrate check` shows the warnings).",
        versions.len(),
        errors.len()
    );
    quote! {
        #( ::core::compile_error!(#errors); )*
        #( #warning_notes )*
        // Every file is included so that editing one makes cargo rebuild this crate.
        const _: () = { #( let _ = ::core::include_bytes!(#tracked); )* };
        #[doc = #doc]
        impl #ident {
            /// The migration directories, in version order.
            pub const MIGRATIONS: &'static [&'static str] = &[#(#versions),*];
        }
        #types
    }
}

fn tracked_files(dir: &Path, report: &Report) -> Vec<String> {
    let mut files = vec![dir.join(crate::config::CONFIG_FILE).display().to_string()];
    for m in &report.migrations {
        for p in &m.phases {
            files.push(p.source.path.display().to_string());
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_relative_to_an_ancestor_holding_the_directory() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let deep = root.join("target/tests/trybuild/concertina");
        let found = resolve_dir(&deep, "migrations");
        assert!(
            found.join("concertina.toml").exists(),
            "{}",
            found.display()
        );
    }
}
