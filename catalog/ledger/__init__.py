"""The sector's AI ledger: agencies' AI projects with their history, shared models, overlaps
found across agencies, and the public disclosure of AI use."""
