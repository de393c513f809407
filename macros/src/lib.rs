//! `#[derive(concertina::Migration)]` lands here with the derive issue; the logic it will call
//! lives in `concertina-codegen`, shared with `cargo xtask migrate check`.
