"""The project's security gates: template loading, the IAM simulator bridge and the project checks (docs/security.md)."""
