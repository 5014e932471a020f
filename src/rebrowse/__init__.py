"""rebrowse: replay recorded browser automations (Optexity format) on real Chromium."""

__version__ = "0.1.0"
