"""Cross-cutting building blocks only: database, errors, money, logging, HTTP plumbing."""
