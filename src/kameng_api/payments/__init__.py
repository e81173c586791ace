"""Payments through external gateways (易支付 EPay first): start, verify notices, apply once."""
