"""Alerts: conditions worth a person's attention (low stock, stuck orders …), raised once
while open."""
