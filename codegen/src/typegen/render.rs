//! Tokens for the specs: `table!`, row structs, enums. Paths are relative (`super::…`) because
//! the derive does not know where in the user's crate its module lands.

use std::str::FromStr;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::mapping::TyRef;
use super::names::ident;
use super::spec::{Shape, TableSpec, WriteMode};
use super::Names;

/// `super::super::…` (`n` times), or `self`.
pub fn up(n: usize) -> TokenStream {
    if n == 0 {
        return quote!(self);
    }
    let supers = (0..n).map(|_| quote!(super));
    quote!(#(#supers)::*)
}

fn path(text: &str) -> TokenStream {
    TokenStream::from_str(text).unwrap_or_else(|_| {
        let message = format!("concertina: `{text}` is not a Rust type path");
        quote!(::core::compile_error!(#message))
    })
}

/// The diesel SQL type; `root` is the path to the generated root module (`None` inside
/// `table!`).
pub fn sql_ty(
    ty: &TyRef,
    nullable: bool,
    root: Option<&TokenStream>,
    names: &Names,
) -> TokenStream {
    let inner = match ty {
        TyRef::Builtin { sql, .. } => path(sql),
        TyRef::Enum(e) => {
            let name = ident(&names.enum_name(&e.name));
            match root {
                Some(root) => quote!(#root::sql_types::#name),
                // Inside `table!`, which imports the enum types by name.
                None => quote!(#name),
            }
        }
        TyRef::Array(element) => {
            let element = sql_ty(element, true, root, names);
            quote!(::diesel::sql_types::Array<#element>)
        }
    };
    if nullable {
        quote!(::diesel::sql_types::Nullable<#inner>)
    } else {
        inner
    }
}

/// The Rust type; `version` is the path to the schema version's module.
pub fn rust_ty(ty: &TyRef, nullable: bool, version: &TokenStream, names: &Names) -> TokenStream {
    let inner = match ty {
        TyRef::Builtin { rust, .. } => path(rust),
        TyRef::Enum(e) => {
            let name = ident(&names.enum_name(&e.name));
            quote!(#version::enums::#name)
        }
        TyRef::Array(element) => {
            let element = rust_ty(element, true, version, names);
            quote!(::std::vec::Vec<#element>)
        }
    };
    if nullable {
        quote!(::core::option::Option<#inner>)
    } else {
        inner
    }
}

/// `table!` for one table, placed in a version module at `depth` below the root.
pub fn table_macro(
    spec: &TableSpec,
    depth: usize,
    default_schema: &str,
    names: &Names,
) -> TokenStream {
    // Inside the module `table!` creates: one more level.
    let root = up(depth + 1);
    let module = ident(&spec.module);
    let sql_name = (spec.module != spec.name.name).then(|| {
        let n = &spec.name.name;
        quote!(#[sql_name = #n])
    });
    let schema = (!spec.name.schema.is_empty() && spec.name.schema != default_schema).then(|| {
        let s = ident(&super::names::snake(&spec.name.schema).0);
        quote!(#s.)
    });
    let pk = spec.pk.iter().map(|p| ident(p));
    let columns = spec.columns.iter().map(|c| {
        let field = ident(&c.field);
        let ty = sql_ty(&c.ty, c.nullable, None, names);
        let rename = (c.field != c.sql_name).then(|| {
            let n = &c.sql_name;
            quote!(#[sql_name = #n])
        });
        quote!(#rename #field -> #ty,)
    });
    // `table!` re-imports `use` items in the modules it nests (a plain relative path would not
    // resolve there).
    let mut enums = std::collections::BTreeSet::new();
    for c in &spec.columns {
        collect_enums(&c.ty, &mut enums);
    }
    let imports = enums.iter().map(|q| {
        let name = ident(&names.enum_name(q));
        quote!(use #root::sql_types::#name;)
    });
    quote! {
        ::diesel::table! {
            #(#imports)*
            #sql_name
            #schema #module (#(#pk),*) {
                #(#columns)*
            }
        }
    }
}

fn collect_enums(ty: &TyRef, out: &mut std::collections::BTreeSet<crate::change::QualName>) {
    match ty {
        TyRef::Enum(e) => {
            out.insert(e.name.clone());
        }
        TyRef::Array(element) => collect_enums(element, out),
        TyRef::Builtin { .. } => {}
    }
}

fn write_ty(ty: &TyRef, mode: WriteMode, version: &TokenStream, names: &Names) -> TokenStream {
    let base = rust_ty(ty, false, version, names);
    match mode {
        WriteMode::Required => base,
        WriteMode::Optional => quote!(::core::option::Option<#base>),
        WriteMode::OptionalNullable => {
            quote!(::core::option::Option<::core::option::Option<#base>>)
        }
    }
}

/// The row, new-row and changes structs of one table, in a module at `depth` below the root.
pub fn structs(shape: &Shape, depth: usize, names: &Names, docs: [&str; 3]) -> TokenStream {
    let version = quote!(self);
    let root = up(depth);
    let table = ident(&shape.table.module);
    let camel = &shape.table.camel;
    let row = format_ident!("{}", camel);
    let new_row = format_ident!("New{}", camel);
    let changes = format_ident!("{}Changes", camel);
    let [row_doc, new_doc, changes_doc] = docs;

    let read_fields = shape.reader.iter().map(|r| {
        let field = ident(&r.field);
        let ty = rust_ty(&r.ty, r.nullable, &version, names);
        let select = r.coalesce.as_ref().map(|other| {
            // COALESCE(new, old): rows written by either app version read the same.
            let sql = sql_ty(&r.ty, r.nullable, Some(&root), names);
            let col_new = shape.table.column_sql(&r.column);
            let col_old = shape.table.column_sql(other);
            let table_sql = &shape.table.name.name;
            let text = format!(
                "COALESCE({}.{}, {}.{})",
                names.quote(table_sql),
                names.quote(&col_new),
                names.quote(table_sql),
                names.quote(&col_old)
            );
            quote! {
                #[diesel(select_expression = ::diesel::dsl::sql::<#sql>(#text))]
                #[diesel(select_expression_type = ::diesel::expression::SqlLiteral<#sql>)]
            }
        });
        let column_attr = (r.field != r.column).then(|| {
            let c = ident(&r.column);
            quote!(#[diesel(column_name = #c)])
        });
        quote!(#select #column_attr pub #field: #ty,)
    });
    let reader = quote! {
        #[doc = #row_doc]
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::cmp::PartialEq, ::diesel::prelude::Queryable, ::diesel::prelude::Selectable)]
        #[diesel(table_name = #table)]
        pub struct #row {
            #(#read_fields)*
        }
    };

    let pk = shape.table.pk.iter().map(|p| ident(p)).collect::<Vec<_>>();
    let field_list = |fields: &[super::spec::WriteField]| {
        fields
            .iter()
            .map(|w| {
                let field = ident(&w.field);
                let ty = write_ty(&w.ty, w.mode, &version, names);
                quote!(pub #field: #ty,)
            })
            .collect::<Vec<_>>()
    };
    let plain = shape.is_plain();
    let mut out = reader;
    if !shape.insert.is_empty() {
        let fields = field_list(&shape.insert);
        if plain {
            out.extend(quote! {
                #[doc = #new_doc]
                #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::cmp::PartialEq, ::diesel::prelude::Insertable)]
                #[diesel(table_name = #table)]
                pub struct #new_row {
                    #(#fields)*
                }
            });
        } else {
            let raw = format_ident!("__{}Columns", new_row);
            let (raw_fields, raw_values) = fan_out(&shape.insert, &version, names);
            out.extend(quote! {
                #[doc = #new_doc]
                #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::cmp::PartialEq)]
                pub struct #new_row {
                    #(#fields)*
                }
                #[doc(hidden)]
                #[derive(::diesel::prelude::Insertable)]
                #[diesel(table_name = #table)]
                pub struct #raw<'a> {
                    #(#raw_fields)*
                }
                impl<'a> ::diesel::Insertable<#table::table> for &'a #new_row {
                    type Values = <#raw<'a> as ::diesel::Insertable<#table::table>>::Values;
                    fn values(self) -> Self::Values {
                        ::diesel::Insertable::<#table::table>::values(#raw { #(#raw_values)* })
                    }
                }
                // What diesel's own derive implements for batch inserts (`.values(&vec)`).
                impl ::diesel::internal::derives::insertable::UndecoratedInsertRecord<#table::table> for #new_row {}
            });
        }
    }
    if !shape.changes.is_empty() {
        let fields = field_list(&shape.changes);
        if plain {
            out.extend(quote! {
                #[doc = #changes_doc]
                #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::cmp::PartialEq, ::core::default::Default, ::diesel::prelude::AsChangeset)]
                #[diesel(table_name = #table, primary_key(#(#pk),*))]
                pub struct #changes {
                    #(#fields)*
                }
            });
        } else {
            let raw = format_ident!("__{}Columns", changes);
            let (raw_fields, raw_values) = fan_out(&shape.changes, &version, names);
            out.extend(quote! {
                #[doc = #changes_doc]
                #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::cmp::PartialEq, ::core::default::Default)]
                pub struct #changes {
                    #(#fields)*
                }
                #[doc(hidden)]
                #[derive(::diesel::prelude::AsChangeset)]
                #[diesel(table_name = #table, primary_key(#(#pk),*))]
                pub struct #raw<'a> {
                    #(#raw_fields)*
                }
                impl<'a> ::diesel::AsChangeset for &'a #changes {
                    type Target = #table::table;
                    type Changeset = <#raw<'a> as ::diesel::AsChangeset>::Changeset;
                    fn as_changeset(self) -> Self::Changeset {
                        ::diesel::AsChangeset::as_changeset(#raw { #(#raw_values)* })
                    }
                }
            });
        }
    }
    out
}

/// The hidden struct of references that writes each value to all its columns, and the field
/// initialisers that fill it from `self`.
fn fan_out(
    fields: &[super::spec::WriteField],
    version: &TokenStream,
    names: &Names,
) -> (Vec<TokenStream>, Vec<TokenStream>) {
    let mut raw_fields = Vec::new();
    let mut raw_values = Vec::new();
    for w in fields {
        let source = ident(&w.field);
        let base = rust_ty(&w.ty, false, version, names);
        let (ty, value) = match w.mode {
            WriteMode::Required => (quote!(&'a #base), quote!(&self.#source)),
            WriteMode::Optional => (
                quote!(::core::option::Option<&'a #base>),
                quote!(self.#source.as_ref()),
            ),
            WriteMode::OptionalNullable => (
                quote!(::core::option::Option<::core::option::Option<&'a #base>>),
                quote!(self.#source.as_ref().map(|v| v.as_ref())),
            ),
        };
        for target in &w.targets {
            let target = ident(target);
            raw_fields.push(quote!(#target: #ty,));
            raw_values.push(quote!(#target: #value,));
        }
    }
    (raw_fields, raw_values)
}

/// A PostgreSQL enum: the Rust enum and its `ToSql`/`FromSql` by label.
pub fn pg_enum(
    rust_name: &str,
    labels: &[String],
    sql_type: &TokenStream,
    doc: &str,
) -> TokenStream {
    let name = ident(rust_name);
    let mut variant_names: Vec<String> = labels.iter().map(|l| super::names::camel(l)).collect();
    super::names::dedupe(&mut variant_names);
    let variants: Vec<_> = variant_names.iter().map(|v| ident(v)).collect();
    let label_docs = labels.iter().map(|l| format!(" `{l}`"));
    let bytes = labels
        .iter()
        .map(|l| proc_macro2::Literal::byte_string(l.as_bytes()));
    let type_name = rust_name.to_string();
    quote! {
        #[doc = #doc]
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy, ::core::cmp::PartialEq, ::core::cmp::Eq, ::core::hash::Hash, ::diesel::expression::AsExpression, ::diesel::deserialize::FromSqlRow)]
        #[diesel(sql_type = #sql_type)]
        pub enum #name {
            #( #[doc = #label_docs] #variants, )*
        }
        impl #name {
            /// The label as the database spells it.
            pub const fn label(self) -> &'static str {
                match self { #( Self::#variants => #labels, )* }
            }
        }
        impl ::diesel::serialize::ToSql<#sql_type, ::diesel::pg::Pg> for #name {
            fn to_sql<'b>(&'b self, out: &mut ::diesel::serialize::Output<'b, '_, ::diesel::pg::Pg>) -> ::diesel::serialize::Result {
                ::std::io::Write::write_all(out, self.label().as_bytes())?;
                ::core::result::Result::Ok(::diesel::serialize::IsNull::No)
            }
        }
        impl ::diesel::deserialize::FromSql<#sql_type, ::diesel::pg::Pg> for #name {
            fn from_sql(value: ::diesel::pg::PgValue<'_>) -> ::diesel::deserialize::Result<Self> {
                match value.as_bytes() {
                    #( #bytes => ::core::result::Result::Ok(Self::#variants), )*
                    other => ::core::result::Result::Err(::std::format!(
                        "label {:?} is not a value of `{}` in this schema version",
                        ::std::string::String::from_utf8_lossy(other),
                        #type_name
                    ).into()),
                }
            }
        }
    }
}
