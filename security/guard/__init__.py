"""cfn-guard gate: Control Tower proactive controls and the project's rules."""
