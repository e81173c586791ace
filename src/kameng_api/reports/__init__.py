"""reports capability (not built yet: it holds only its permissions so far)."""
