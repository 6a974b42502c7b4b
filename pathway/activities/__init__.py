"""Temporal activities: the side effects of a case, run by workers outside the workflow sandbox."""
