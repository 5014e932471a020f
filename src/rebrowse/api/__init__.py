"""The HTTP API: `create_app(settings, db, queue, sealer)` builds the FastAPI application."""
