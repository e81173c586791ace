"""The one place that answers "what does this buyer pay for n of this SKU".

Candidates, and the buyer pays the lowest that applies:

- the SKU's base price (everyone, guests included);
- the member price of the highest configured member level ≤ the buyer's level (会员价);
- the reseller price of the highest configured tier ≤ the reseller's tier (代理价);
- the quantity tier price of the highest ``min_qty`` ≤ n (阶梯价).

Pure functions over a price snapshot, so orders, the shop and the admin preview agree, and the
rules are tested without a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from kameng_api.core.actor import UserKind
from kameng_api.core.money import quantize, to_cents

# A price this far from the market reference earns a warning (the "低于市场均价10%" hint).
MARKET_HINT_BELOW = Decimal("0.10")
MARKET_HINT_ABOVE = Decimal("0.30")


@dataclass(frozen=True)
class Buyer:
    kind: UserKind | None = None  # None: a guest
    member_level: int = 0
    reseller_tier: int = 0

    @classmethod
    def guest(cls) -> Buyer:
        return cls()


@dataclass(frozen=True)
class SkuPrices:
    base: Decimal
    member: dict[int, Decimal] = field(default_factory=dict)  # level → unit price
    reseller: dict[int, Decimal] = field(default_factory=dict)  # tier → unit price
    tiers: dict[int, Decimal] = field(default_factory=dict)  # min quantity → unit price


@dataclass(frozen=True)
class Quote:
    quantity: int
    unit_price: Decimal
    total: Decimal
    rule: str  # "base", "member:2", "reseller:1", "tier:10"


def _best_at_or_below(table: dict[int, Decimal], level: int) -> tuple[int, Decimal] | None:
    eligible = [k for k in table if k <= level]
    if not eligible:
        return None
    k = max(eligible)
    return k, table[k]


def quote(prices: SkuPrices, buyer: Buyer, quantity: int) -> Quote:
    if quantity < 1:
        raise ValueError("quantity must be at least 1")
    candidates: list[tuple[Decimal, str]] = [(prices.base, "base")]
    if buyer.kind == UserKind.customer and buyer.member_level > 0:
        hit = _best_at_or_below(prices.member, buyer.member_level)
        if hit:
            candidates.append((hit[1], f"member:{hit[0]}"))
    if buyer.kind == UserKind.reseller and buyer.reseller_tier > 0:
        hit = _best_at_or_below(prices.reseller, buyer.reseller_tier)
        if hit:
            candidates.append((hit[1], f"reseller:{hit[0]}"))
    hit = _best_at_or_below(prices.tiers, quantity)
    if hit:
        candidates.append((hit[1], f"tier:{hit[0]}"))
    # lowest wins; on a tie the earlier (simpler) rule names it
    unit, rule = min(candidates, key=lambda c: c[0])
    unit = quantize(unit)
    return Quote(quantity, unit, to_cents(unit * quantity), rule)


@dataclass(frozen=True)
class PriceWarning:
    code: str  # below_cost | below_market | above_market
    price_label: str  # which price: "base", "member:1", "tier:10" …
    price: Decimal
    reference: Decimal
    percent: int  # how far from the reference, in whole percent
    message_zh: str
    message_en: str


def _all_prices(p: SkuPrices) -> list[tuple[str, Decimal]]:
    out = [("base", p.base)]
    out += [(f"member:{k}", v) for k, v in sorted(p.member.items())]
    out += [(f"reseller:{k}", v) for k, v in sorted(p.reseller.items())]
    out += [(f"tier:{k}", v) for k, v in sorted(p.tiers.items())]
    return out


def price_checks(
    p: SkuPrices, cost: Decimal, market: Decimal | None
) -> tuple[list[PriceWarning], list[PriceWarning]]:
    """(below-cost problems, market hints) for every price of a SKU."""
    below_cost: list[PriceWarning] = []
    hints: list[PriceWarning] = []
    for label, price in _all_prices(p):
        if cost > 0 and price < cost:
            pct = int(((cost - price) / cost * 100).to_integral_value())
            below_cost.append(
                PriceWarning(
                    "below_cost",
                    label,
                    price,
                    cost,
                    pct,
                    f"该价格低于成本价{pct}%，会亏本销售",
                    f"This price is {pct}% below cost: every sale loses money",
                )
            )
        if market and market > 0:
            delta = (price - market) / market
            pct = int((abs(delta) * 100).to_integral_value())
            if delta <= -MARKET_HINT_BELOW:
                hints.append(
                    PriceWarning(
                        "below_market",
                        label,
                        price,
                        market,
                        pct,
                        f"该价格低于市场均价{pct}%",
                        f"This price is {pct}% below the market reference",
                    )
                )
            elif delta >= MARKET_HINT_ABOVE:
                hints.append(
                    PriceWarning(
                        "above_market",
                        label,
                        price,
                        market,
                        pct,
                        f"该价格高于市场均价{pct}%",
                        f"This price is {pct}% above the market reference",
                    )
                )
    return below_cost, hints
