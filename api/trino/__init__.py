"""Trino's client protocol over the SQL API's sandbox, so Trino clients and BI tools connect."""
