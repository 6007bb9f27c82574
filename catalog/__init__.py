"""The catalog database, deliveries and the Iceberg lakehouse (stage, audit, publish, read)."""
