"""Notifications: in-app notices and email (SMTP) sent through the outbox."""
