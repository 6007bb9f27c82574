"""Dagster: one asset per contract, blocking gate checks, the landing-zone sensor."""
