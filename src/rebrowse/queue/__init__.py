"""The durable queue: procrastinate on the deployment's PostgreSQL, one job per task."""
