"""fulfilment: getting paid goods to the buyer outside our own stock (direct recharge through
a supplier), the buyer's delivery notices, and re-driving orders that got stuck."""
