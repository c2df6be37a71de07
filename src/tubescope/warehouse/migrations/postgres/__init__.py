"""PostgreSQL migrations: the same version numbers and schema meaning as the DuckDB ones."""
