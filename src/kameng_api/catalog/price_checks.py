"""Price sanity when a product is saved: prices below cost are refused unless confirmed;
prices far from the market reference come back as hints."""

from __future__ import annotations

from kameng_api.catalog import pricing
from kameng_api.catalog.errors import PriceBelowCost
from kameng_api.catalog.schemas import ProductIn, SkuIn


def sku_prices(sku: SkuIn) -> pricing.SkuPrices:
    return pricing.SkuPrices(
        base=sku.base_price,
        member=dict(sku.member_prices),
        reseller=dict(sku.reseller_prices),
        tiers=dict(sku.tier_prices),
    )


def check_prices(data: ProductIn) -> list[tuple[str, pricing.PriceWarning]]:
    """Refuse prices below cost unless confirmed; return the market hints."""
    problems: list[tuple[str, pricing.PriceWarning]] = []
    hints: list[tuple[str, pricing.PriceWarning]] = []
    for sku in data.skus:
        below, near = pricing.price_checks(sku_prices(sku), sku.cost_price, sku.market_price)
        problems += [(sku.name, w) for w in below]
        hints += [(sku.name, w) for w in near]
    if problems and not data.confirm_below_cost:
        detail = "; ".join(f"{name} {w.price_label}: {w.message_en}" for name, w in problems)
        raise PriceBelowCost(
            f"{detail}. Send confirm_below_cost=true to save anyway.",
        )
    return problems + hints
