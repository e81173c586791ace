"""Suppliers: the upstreams that perform direct recharges, and which one serves an order."""
