"""Authoring automations: importing Playwright scripts (and, later, recording) into `automation/` models."""
