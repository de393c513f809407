//! The state store's connection (`engine::store::StateSql`) for a diesel connection: the same
//! binding code for every server, given its connection type, its diesel backend and its
//! [`Flavour`](crate::engine::store::Flavour).

/// Implements `StateSql` for `$conn` (a diesel connection of backend `$backend`).
#[macro_export]
#[doc(hidden)]
macro_rules! impl_state_sql {
    ($conn:ty, $backend:ty, $flavour:expr) => {
        impl $crate::engine::store::StateSql for $conn {
            fn flavour(&self) -> $crate::engine::store::Flavour {
                $flavour
            }

            fn execute(
                &mut self,
                sql: &str,
                params: &[$crate::engine::store::Param],
            ) -> Result<usize, diesel::result::Error> {
                use diesel::RunQueryDsl;
                bind(diesel::sql_query(sql).into_boxed(), params).execute(self)
            }

            fn texts(
                &mut self,
                sql: &str,
                params: &[$crate::engine::store::Param],
            ) -> Result<Vec<Option<String>>, diesel::result::Error> {
                use diesel::RunQueryDsl;
                #[derive(diesel::QueryableByName)]
                struct V {
                    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
                    v: Option<String>,
                }
                let rows: Vec<V> = bind(diesel::sql_query(sql).into_boxed(), params).load(self)?;
                Ok(rows.into_iter().map(|r| r.v).collect())
            }

            fn transaction(
                &mut self,
                body: &mut dyn FnMut(
                    &mut dyn $crate::engine::store::StateSql,
                ) -> Result<(), diesel::result::Error>,
            ) -> Result<(), diesel::result::Error> {
                diesel::Connection::transaction(self, |c| body(c))
            }
        }

        fn bind<'a>(
            mut q: diesel::query_builder::BoxedSqlQuery<
                'a,
                $backend,
                diesel::query_builder::SqlQuery,
            >,
            params: &[$crate::engine::store::Param<'a>],
        ) -> diesel::query_builder::BoxedSqlQuery<'a, $backend, diesel::query_builder::SqlQuery> {
            use diesel::sql_types::{BigInt, Nullable, Text};
            use $crate::engine::store::Param;
            for p in params {
                q = match *p {
                    Param::Text(t) => q.bind::<Text, _>(t),
                    Param::OptText(t) => q.bind::<Nullable<Text>, _>(t),
                    Param::Int(n) => q.bind::<BigInt, _>(n),
                };
            }
            q
        }
    };
}
