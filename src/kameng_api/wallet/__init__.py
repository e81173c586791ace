"""Wallet: balances on a double-entry ledger — recharges, purchases, refunds, adjustments."""
