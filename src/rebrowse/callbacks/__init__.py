"""Durable, signed webhook delivery of task results (the outbox, its sender, signatures and SSRF checks)."""
