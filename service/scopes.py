"""The scopes a token may hold, from the least to the most it allows (README: Security)."""

SCOPES = ("metrics", "read", "operate", "exec", "write", "admin")
# scopes that reach inside containers anyway: they see the secrets answers carry
SEES_SECRETS = frozenset({"exec", "admin"})
