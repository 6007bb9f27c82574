"""Joint data products: a secretariat's SQL over published datasets, built as its agency over
pinned input snapshots and delivered to its own contract's gate like any agency's file."""
