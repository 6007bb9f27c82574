"""The gate: files to Arrow, contract and quality checks, and the quarantine report."""
