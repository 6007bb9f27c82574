"""The policy's query engine: a caller's sandbox, its limits and one query's run, shared by the
SQL API, the Trino protocol and joint products' builds."""
