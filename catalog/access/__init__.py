"""Who may read what: principals and roles, the access policy, grants and their row filters,
API keys, web sessions, and the audit log every access writes to."""
