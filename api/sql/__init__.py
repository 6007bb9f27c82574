"""The SQL API: statement check, sandboxed DuckDB per caller, limits, answers and downloads."""
