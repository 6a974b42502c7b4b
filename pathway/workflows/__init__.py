"""Temporal workflows: deterministic shells around the pure domain core."""
