"""The dashboard: web pages over the API, signed in with an API key kept in a sealed session cookie."""
