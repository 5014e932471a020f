"""Metrics for Prometheus and structured logs."""
