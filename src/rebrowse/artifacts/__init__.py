"""A task's files: their names (layout), and the ArtifactStore that keeps them (local directory or S3)."""
