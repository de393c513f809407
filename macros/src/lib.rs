//! `#[derive(concertina::Migration)]`: parse the attribute, hand everything to
//! `concertina_codegen::derive` (shared with `cargo xtask migrate check`), return its tokens.

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput, LitBool, LitStr};

/// Checks the migrations directory at compile time: every unsafe statement is a compile error
/// naming the file, line, rule and the safe recipe. Generates diesel types for every schema
/// version in a module named after the struct (`db` for `Db`).
///
/// ```ignore
/// #[derive(concertina::Migration)]
/// #[migration(dir = "migrations")] // relative to CARGO_MANIFEST_DIR
/// pub struct Db;
/// ```
///
/// Keys: `dir = "migrations"`, `module = "db"` (the generated module), `types = false` (check
/// only, no generated types), `versions = 2` (types for the last 2 migrations, the default:
/// the old app's version, the last window and the new version; `"all"` for every version).
#[proc_macro_derive(Migration, attributes(migration))]
pub fn derive_migration(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    let mut options = concertina_codegen::derive::DeriveOptions {
        dir: "migrations".into(),
        module: None,
        types: true,
        // The versions one deploy involves: the previous migration's (the old app), the last
        // migration's window (the transition app) and its result (the new app).
        versions: Some(2),
        features: concertina_codegen::typegen::Features {
            chrono: cfg!(feature = "chrono"),
            uuid: cfg!(feature = "uuid"),
            serde_json: cfg!(feature = "serde_json"),
            bigdecimal: cfg!(feature = "bigdecimal"),
            max_columns: if cfg!(feature = "128-column-tables") {
                128
            } else if cfg!(feature = "64-column-tables") {
                64
            } else {
                32
            },
        },
    };
    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("migration"))
    {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("dir") {
                options.dir = meta.value()?.parse::<LitStr>()?.value();
                Ok(())
            } else if meta.path.is_ident("module") {
                let name = meta.value()?.parse::<LitStr>()?;
                syn::parse_str::<syn::Ident>(&name.value()).map_err(|_| {
                    syn::Error::new(name.span(), "`module` must be a Rust identifier")
                })?;
                options.module = Some(name.value());
                Ok(())
            } else if meta.path.is_ident("versions") {
                let value: syn::Lit = meta.value()?.parse()?;
                options.versions = match &value {
                    syn::Lit::Int(n) if n.base10_parse::<usize>().is_ok_and(|n| n > 0) => {
                        Some(n.base10_parse()?)
                    }
                    syn::Lit::Str(s) if s.value() == "all" => None,
                    _ => {
                        return Err(syn::Error::new(
                            value.span(),
                            "`versions` takes a number of migrations (at least 1) or \"all\"",
                        ))
                    }
                };
                Ok(())
            } else if meta.path.is_ident("types") {
                options.types = meta.value()?.parse::<LitBool>()?.value;
                Ok(())
            } else {
                Err(meta.error(
                    "unknown key: concertina's #[migration(...)] takes `dir = \"migrations\"`, `module = \"db\"`, `types = false` and `versions = 2`",
                ))
            }
        });
        if let Err(e) = parsed {
            return e.to_compile_error().into();
        }
    }
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    concertina_codegen::derive::expand(&input.ident, &options, std::path::Path::new(&manifest_dir))
        .into()
}
