"""reports capability (lands later; its permissions are defined now so roles can hold them)."""
