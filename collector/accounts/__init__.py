"""People and machines on the platform: accounts with roles, named API tokens, sign-in sessions,
and the append-only audit trail of every change they make."""
