"""Inbound messages that two-factor codes are read from: what a message is, which ones a step waits for, the
code in one, and the sources that are fetched (an IMAP mailbox, Slack) rather than posted to the API."""
