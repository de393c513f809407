//! concertina's own representation of a statement: what it changes, in the terms the model and
//! the rules need. `sql::lower` builds it from sqlparser's AST (the one module that knows
//! sqlparser's types), so a sqlparser upgrade touches one module.

use std::fmt;

use crate::types::SqlType;

/// A schema-qualified, normalised object name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QualName {
    /// Empty when the dialect has no schema default (MySQL's current database).
    pub schema: String,
    pub name: String,
}

impl QualName {
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Self {
        QualName {
            schema: schema.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for QualName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.schema.is_empty() || self.schema == "public" {
            f.write_str(&self.name)
        } else {
            write!(f, "{}.{}", self.schema, self.name)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Volatility {
    Immutable,
    Stable,
    Volatile,
}

/// An expression kept as text, with what the rules ask of it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExprInfo {
    pub text: String,
    /// Lower-case names of the functions it calls.
    pub functions: Vec<String>,
    /// Normalised names of the columns it mentions.
    pub columns: Vec<String>,
    /// The literal `NULL`.
    pub is_null: bool,
    /// A bare column reference (`name` in `SET full_name = name`).
    pub bare_column: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    pub expr: ExprInfo,
    /// `STORED`; PostgreSQL 18+ defaults to `VIRTUAL`.
    pub stored: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    pub name: String,
    pub ty: SqlType,
    /// `NOT NULL` or `PRIMARY KEY` stated on the column.
    pub not_null: bool,
    pub default: Option<ExprInfo>,
    /// `serial` types: an implicit sequence default and `NOT NULL`.
    pub serial: bool,
    /// `GENERATED … AS IDENTITY` or MySQL `AUTO_INCREMENT`.
    pub identity: bool,
    pub generated: Option<Generated>,
    pub collation: Option<String>,
    /// MySQL `CHARACTER SET x` on the column (lower case).
    pub charset: Option<String>,
    /// `PRIMARY KEY`, `UNIQUE`, `CHECK`, `REFERENCES` written on the column.
    pub constraints: Vec<ConstraintSpec>,
    /// The type's text is a domain or other user type whose constraints the model knows.
    pub type_is_user_defined: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConstraintKind {
    PrimaryKey {
        columns: Vec<String>,
        using_index: Option<String>,
    },
    Unique {
        columns: Vec<String>,
        using_index: Option<String>,
    },
    Check {
        expr: ExprInfo,
        /// `CHECK (col IS NOT NULL)`: the column it proves not null.
        not_null_of: Option<String>,
    },
    ForeignKey {
        columns: Vec<String>,
        ref_table: QualName,
        ref_columns: Vec<String>,
    },
    Exclude,
    /// PostgreSQL 18's `CONSTRAINT c NOT NULL col`.
    NotNull {
        column: String,
    },
}

impl ConstraintKind {
    pub fn label(&self) -> &'static str {
        match self {
            ConstraintKind::PrimaryKey { .. } => "primary key",
            ConstraintKind::Unique { .. } => "unique",
            ConstraintKind::Check { .. } => "check",
            ConstraintKind::ForeignKey { .. } => "foreign key",
            ConstraintKind::Exclude => "exclusion",
            ConstraintKind::NotNull { .. } => "not null",
        }
    }

    /// The table's columns the constraint covers.
    pub fn columns(&self) -> Vec<String> {
        match self {
            ConstraintKind::PrimaryKey { columns, .. }
            | ConstraintKind::Unique { columns, .. }
            | ConstraintKind::ForeignKey { columns, .. } => columns.clone(),
            ConstraintKind::Check { expr, .. } => expr.columns.clone(),
            ConstraintKind::NotNull { column } => vec![column.clone()],
            ConstraintKind::Exclude => Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConstraintSpec {
    pub name: Option<String>,
    pub kind: ConstraintKind,
    pub not_valid: bool,
}

/// Where `ALTER TYPE … ADD VALUE` places the new label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelPosition {
    Before(String),
    After(String),
}

/// A column reference of a query, with the tables it may belong to: one list per scope level,
/// innermost first (SQL resolves a name at the innermost level that has it). A reference that
/// resolves to a subquery's or CTE's output is not listed: that subquery's own references are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnRef {
    pub column: String,
    pub scopes: Vec<Vec<QualName>>,
}

/// Where an output column of a query comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputSource {
    /// A column of a table (resolved like [`ColumnRef`]).
    Column(ColumnRef),
    /// `expr::type` / `CAST(expr AS type)`.
    Cast(SqlType),
    /// `*` or `t.*`: every column of these tables, in order.
    Star(Vec<QualName>),
    /// Anything else: a type the model does not work out.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputColumn {
    /// `None` for a star.
    pub name: Option<String>,
    pub source: OutputSource,
}

/// What a query (a view's, a `CREATE TABLE … AS SELECT`'s) reads and returns, from its AST.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryShape {
    /// The top-level `SELECT`'s columns, in order.
    pub outputs: Vec<OutputColumn>,
    /// Every column reference, through subqueries, `EXISTS` and CTEs.
    pub refs: Vec<ColumnRef>,
    /// Tables the query reads whole: a `*` whose columns reach the result (not one inside
    /// `EXISTS`), or a reference the lowering could not place.
    pub all_columns_of: Vec<QualName>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTable {
    pub name: QualName,
    pub columns: Vec<ColumnSpec>,
    pub constraints: Vec<ConstraintSpec>,
    pub if_not_exists: bool,
    pub temporary: bool,
    /// `PARTITION BY …`: a partitioned parent.
    pub partitioned: bool,
    /// `PARTITION OF parent`.
    pub partition_of: Option<QualName>,
    /// `CREATE TABLE … AS SELECT`: the tables it reads.
    pub as_select_from: Option<Vec<QualName>>,
    /// `CREATE TABLE … AS SELECT`: its columns come from the query.
    pub as_select_shape: Option<QueryShape>,
    /// `CREATE TABLE … (LIKE other)`.
    pub like: Option<QualName>,
    /// `LIKE other INCLUDING DEFAULTS`: the copied columns keep their defaults.
    pub like_defaults: bool,
    /// MySQL inline `INDEX`/`KEY`/`FULLTEXT`/`SPATIAL` (as [`AlterOp::AddIndex`]), in order.
    pub indexes: Vec<AlterOp>,
    /// MySQL `[DEFAULT] CHARSET=x` (or the character set of `COLLATE=x`), lower case.
    pub charset: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateIndex {
    pub name: Option<String>,
    pub table: QualName,
    pub unique: bool,
    pub concurrently: bool,
    pub if_not_exists: bool,
    /// `ON ONLY parent`.
    pub only: bool,
    /// Column names; an expression element is kept as its text in `expressions`.
    pub columns: Vec<String>,
    pub expressions: Vec<ExprInfo>,
    pub predicate: Option<ExprInfo>,
    /// Every element's name, in order, as PostgreSQL derives it for a generated index name:
    /// the column, or for an expression the function it calls (`lower`), else `expr`.
    pub element_names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterOp {
    AddColumn {
        column: ColumnSpec,
        if_not_exists: bool,
    },
    DropColumn {
        name: String,
        if_exists: bool,
        cascade: bool,
    },
    RenameColumn {
        from: String,
        to: String,
    },
    AlterColumnType {
        column: String,
        ty: SqlType,
        /// `USING expr` other than the column itself (`USING col` does what no `USING` does).
        using: bool,
        collation: Option<String>,
    },
    SetNotNull {
        column: String,
    },
    DropNotNull {
        column: String,
    },
    SetDefault {
        column: String,
        default: ExprInfo,
    },
    DropDefault {
        column: String,
    },
    AddIdentity {
        column: String,
    },
    AddConstraint(ConstraintSpec),
    ValidateConstraint {
        name: String,
    },
    DropConstraint {
        name: String,
        if_exists: bool,
        cascade: bool,
    },
    RenameConstraint {
        from: String,
        to: String,
    },
    RenameTable {
        to: QualName,
    },
    AttachPartition {
        partition: QualName,
        /// `FOR VALUES …` text, or `DEFAULT`.
        bound: String,
        is_default: bool,
    },
    DetachPartition {
        partition: QualName,
        concurrently: bool,
        finalize: bool,
    },
    /// `SET TABLESPACE`, `SET LOGGED`, `SET UNLOGGED`: the relation is copied.
    Rewrite {
        what: String,
    },
    /// `ENABLE/DISABLE TRIGGER|RULE`.
    TriggerToggle {
        text: String,
    },
    /// MySQL `MODIFY` / `CHANGE COLUMN`: the column restated whole.
    ModifyColumn {
        old_name: String,
        column: ColumnSpec,
    },
    /// MySQL `DROP PRIMARY KEY`.
    DropPrimaryKey,
    /// MySQL `DROP FOREIGN KEY name` / `DROP INDEX name` inside ALTER TABLE.
    DropIndexOrKey {
        name: String,
    },
    /// MySQL `ADD INDEX` / `ADD KEY` / `ADD FULLTEXT|SPATIAL INDEX` inside ALTER TABLE.
    AddIndex {
        name: Option<String>,
        columns: Vec<String>,
        unique: bool,
        kind: String,
    },
    /// MySQL `FIRST` / `AFTER col` of an `ADD`/`MODIFY`/`CHANGE COLUMN`, as its own step after
    /// it: `after: None` is `FIRST`.
    MoveColumn {
        column: String,
        after: Option<String>,
    },
    /// MySQL `RENAME INDEX|KEY a TO b` (index names live in their table's namespace).
    RenameIndex {
        from: String,
        to: String,
    },
    /// MySQL `CONVERT TO CHARACTER SET x`: every text column converted.
    ConvertCharset {
        charset: String,
    },
    /// MySQL `[DEFAULT] CHARACTER SET = x`: the table's default for new columns only.
    DefaultCharset {
        charset: String,
    },
    /// MySQL `ALGORITHM=…` (upper case).
    Algorithm(String),
    /// MySQL `LOCK=…` (upper case).
    Lock(String),
    /// Understood as an ALTER TABLE action the model does not track.
    Other {
        text: String,
    },
}

/// An `UPDATE`'s clauses as text: the runtime rebuilds the statement per key range.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpdateParts {
    /// The target as written, with its alias (`users AS u`).
    pub target: String,
    /// The alias the other clauses use for the target, if any.
    pub alias: Option<String>,
    /// The `SET` list (`full_name = name, n = n + 1`).
    pub set: String,
    /// The `FROM` list, without the keyword.
    pub from: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub column: String,
    pub value: ExprInfo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Table,
    View,
    MaterializedView,
    Index,
    Sequence,
    Type,
    Domain,
    Function,
    Schema,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    CreateTable(CreateTable),
    AlterTable {
        table: QualName,
        only: bool,
        if_exists: bool,
        ops: Vec<AlterOp>,
    },
    CreateIndex(CreateIndex),
    DropObjects {
        kind: ObjectKind,
        names: Vec<QualName>,
        if_exists: bool,
        cascade: bool,
        /// `DROP INDEX CONCURRENTLY`.
        concurrently: bool,
    },
    RenameIndex {
        from: QualName,
        to: String,
        /// `ALTER INDEX IF EXISTS`: an index unknown to the model is no surprise.
        if_exists: bool,
    },
    /// `ALTER INDEX … ATTACH PARTITION`.
    AttachIndex {
        parent: QualName,
        child: QualName,
    },
    /// `ALTER INDEX … SET TABLESPACE` and other relation copies of an index.
    RewriteIndex {
        name: QualName,
        what: String,
    },
    Reindex {
        target: String,
        name: Option<QualName>,
        concurrently: bool,
    },
    CreateEnum {
        name: QualName,
        labels: Vec<String>,
    },
    AddEnumValue {
        name: QualName,
        label: String,
        if_not_exists: bool,
        /// `BEFORE 'x'` / `AFTER 'x'`; appended when `None`.
        position: Option<LabelPosition>,
    },
    RenameEnumValue {
        name: QualName,
        from: String,
        to: String,
    },
    RenameType {
        from: QualName,
        to: String,
    },
    CreateType {
        name: QualName,
    },
    CreateDomain {
        name: QualName,
        base: SqlType,
        has_constraints: bool,
    },
    AlterDomainAddConstraint {
        name: QualName,
        not_valid: bool,
    },
    /// `ALTER DOMAIN … VALIDATE CONSTRAINT …`: checks every column of the domain.
    AlterDomainValidateConstraint {
        name: QualName,
    },
    CreateSequence {
        name: QualName,
    },
    AlterSequence {
        name: QualName,
    },
    CreateView {
        name: QualName,
        materialized: bool,
        or_replace: bool,
        reads: Vec<QualName>,
        /// The query text.
        query: String,
        /// Which columns it reads; `None` when the query could not be analysed (the rules fall
        /// back to word matches on `query`).
        shape: Option<QueryShape>,
    },
    RefreshMaterializedView {
        name: QualName,
        concurrently: bool,
    },
    CreateFunction {
        name: QualName,
        or_replace: bool,
        volatility: Option<Volatility>,
        body: String,
    },
    CreateTrigger {
        name: String,
        table: QualName,
        or_replace: bool,
    },
    CreateRule {
        table: QualName,
    },
    Truncate {
        tables: Vec<QualName>,
    },
    LockTable {
        tables: Vec<QualName>,
    },
    Update {
        table: QualName,
        assignments: Vec<Assignment>,
        filter: Option<ExprInfo>,
        /// The statement's parts as written, for the runtime to rebuild it in batches.
        parts: UpdateParts,
    },
    Delete {
        table: QualName,
        filter: Option<ExprInfo>,
    },
    Insert {
        table: QualName,
        columns: Vec<String>,
        /// Tables a `SELECT` source reads; empty for `VALUES`.
        select_from: Vec<QualName>,
    },
    /// `VACUUM FULL`, `CLUSTER`, MySQL `OPTIMIZE TABLE`: a full copy of the table.
    RewriteTable {
        table: Option<QualName>,
        what: String,
    },
    Begin,
    Commit,
    Rollback,
    SetVariable {
        name: String,
        value: String,
    },
    /// A `DO` block or other procedural code: it may do anything.
    ProceduralBlock,
    /// A PL/pgSQL statement (`RAISE`, `PERFORM`, …) written outside a `DO` block or function
    /// body: the server refuses it, so it changes nothing. `what` names it (`RAISE NOTICE`).
    ProceduralOutsideBlock {
        what: String,
    },
    /// Understood and harmless to the schema model (`COMMENT`, `GRANT`, `ANALYZE`, `VACUUM`…).
    NoSchemaEffect {
        what: String,
    },
    /// Not understood: the model cannot follow it. Carries the parser's message.
    Opaque {
        reason: String,
    },
}

impl Change {
    /// DDL in the sense of the phase rules: changes the schema (everything but data changes,
    /// transaction control and session settings).
    pub fn is_ddl(&self) -> bool {
        !matches!(
            self,
            Change::Update { .. }
                | Change::Delete { .. }
                | Change::Insert { .. }
                | Change::Begin
                | Change::Commit
                | Change::Rollback
                | Change::SetVariable { .. }
                | Change::NoSchemaEffect { .. }
                | Change::ProceduralOutsideBlock { .. }
        )
    }

    pub fn is_data_change(&self) -> bool {
        matches!(
            self,
            Change::Update { .. } | Change::Delete { .. } | Change::Insert { .. }
        )
    }
}
