"""The project's security gates: template loading, IAM simulator bridge, project checks (docs/security.md)."""
