"""Queues the pipeline reads its events from."""
