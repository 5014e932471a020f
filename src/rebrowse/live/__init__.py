"""Live view of running tasks: stream tokens and an RFB viewer."""
