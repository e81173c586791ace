"""Orders and fulfilment (the capability lands later; its permissions are defined now)."""
