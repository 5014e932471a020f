"""Secure parameters: TOTP codes, AWS Secrets Manager, 1Password, and redaction of every resolved value."""
