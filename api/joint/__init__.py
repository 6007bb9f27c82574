"""Joint use over HTTP: access requests and their decisions, and the joint-use board."""
