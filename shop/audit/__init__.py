"""The audit trail of who did what."""
