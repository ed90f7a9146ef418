"""Metrics of a selection."""
