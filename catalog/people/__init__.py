"""People and service accounts: who acts on the platform, for which agency, in which roles, and
the factors a person signs in with when there is no identity provider (password, TOTP)."""
