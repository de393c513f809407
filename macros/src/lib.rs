//! `#[derive(concertina::Migration)]`: parse the attribute, hand everything to
//! `concertina_codegen::derive` (shared with `cargo xtask migrate check`), return its tokens.

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput, LitStr};

/// Checks the migrations directory at compile time: every unsafe statement is a compile error
/// naming the file, line, rule and the safe recipe.
///
/// ```ignore
/// #[derive(concertina::Migration)]
/// #[migration(dir = "migrations")] // relative to CARGO_MANIFEST_DIR
/// pub struct Db;
/// ```
#[proc_macro_derive(Migration, attributes(migration))]
pub fn derive_migration(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    let mut dir: Option<LitStr> = None;
    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("migration"))
    {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("dir") {
                dir = Some(meta.value()?.parse()?);
                Ok(())
            } else {
                Err(meta.error(
                    "unknown key: concertina's #[migration(...)] takes `dir = \"migrations\"`",
                ))
            }
        });
        if let Err(e) = parsed {
            return e.to_compile_error().into();
        }
    }
    let dir = dir.map_or_else(|| "migrations".to_string(), |d| d.value());
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    concertina_codegen::derive::expand(&input.ident, &dir, std::path::Path::new(&manifest_dir))
        .into()
}
