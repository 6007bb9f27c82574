"""The HTTP API (FastAPI): SQL, catalog pages and machine-readable exports."""
