"""Roles made of fine-grained permissions; the one place authorization is checked."""
