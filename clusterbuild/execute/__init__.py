"""Doing the work: one runner per step kind, and the scheduler that runs stale steps."""
