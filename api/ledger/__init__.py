"""The AI ledger over HTTP: projects, shared models and overlaps (`catalog.ledger`)."""
