"""The project's security gates: IAM simulator bridge, project checks (README, "How it stays secure")."""
