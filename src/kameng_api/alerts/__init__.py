"""Alerts: conditions worth a person's attention (so far: low stock), raised once while open."""
