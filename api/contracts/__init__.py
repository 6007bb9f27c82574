"""Routes about data contracts: drafts from sample files (`api.contracts.drafts`)."""
