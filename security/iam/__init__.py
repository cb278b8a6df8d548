"""IAM preventive controls: read them from the template and evaluate them with a real policy simulator."""
