"""The warehouse: one query layer (Ibis) over DuckDB, PostgreSQL and Spark."""
