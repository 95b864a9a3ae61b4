"""Where a backfill keeps its checkpoint between runs (the CheckpointStore port)."""
