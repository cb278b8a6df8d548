"""The project's security gates: IAM simulator bridge, project checks (docs/security.md)."""
