//! MySQL and MariaDB: the backend arrives in the next commit.

use crate::error::RuntimeError;

pub struct MySql;

impl MySql {
    pub fn connect(url: &str, _mariadb: bool) -> Result<crate::postgres::Postgres, RuntimeError> {
        Err(RuntimeError::connect(
            url,
            "the MySQL backend is not built yet",
        ))
    }
}
