"""The cost model: named seats and concurrent slots are priced per licence per month, billed
for twelve months; the comparison is named-only licensing for everyone."""

from __future__ import annotations

from dataclasses import dataclass

MONTHS = 12
DEFAULT_CURRENCY = "GBP"


def annual(count: int, price_per_month: float) -> float:
    return MONTHS * count * price_per_month


@dataclass(frozen=True, kw_only=True)
class CostComparison:
    """A mixed named/concurrent deal against named-only licences for ``named_only`` people."""

    named: int
    price_named: float
    concurrent: int
    price_concurrent: float
    named_only: int
    price_named_only: float

    @property
    def named_annual(self) -> float:
        return annual(self.named, self.price_named)

    @property
    def concurrent_annual(self) -> float:
        return annual(self.concurrent, self.price_concurrent)

    @property
    def total_annual(self) -> float:
        return self.named_annual + self.concurrent_annual

    @property
    def named_only_annual(self) -> float:
        return annual(self.named_only, self.price_named_only)

    @property
    def saving(self) -> float:
        return self.named_only_annual - self.total_annual

    @property
    def saving_pct(self) -> float:
        """The saving as a percentage of named-only, one decimal; 0 when named-only is free."""
        if self.named_only_annual == 0:
            return 0.0
        return round(100 * self.saving / self.named_only_annual, 1)

    def as_json(self) -> dict[str, int | float]:
        return {
            "named_annual": exact(self.named_annual),
            "concurrent_annual": exact(self.concurrent_annual),
            "total_annual": exact(self.total_annual),
            "named_only_annual": exact(self.named_only_annual),
            "saving": exact(self.saving),
            "saving_pct": self.saving_pct,
        }


def exact(amount: float) -> int | float:
    """An amount for JSON: an integer when it is whole."""
    return int(round(amount)) if abs(amount - round(amount)) < 1e-9 else amount


def money(amount: float) -> str:
    """``126,000``; pence only when there are any."""
    if abs(amount - round(amount)) < 0.005:
        return f"{round(amount):,}"
    return f"{amount:,.2f}"


def percent(value: float) -> str:
    return f"{value:.0f} %" if abs(value - round(value)) < 0.05 else f"{value:.1f} %"


def cost_table(comparison: CostComparison, currency: str = DEFAULT_CURRENCY) -> str:
    """The guide's table: licences, rate per person per month, annual cost, total and saving."""
    c = comparison
    lines = [
        ("licence", "licences", f"{currency}/person/month", f"annual {currency}"),
        ("named", f"{c.named:,}", money(c.price_named), money(c.named_annual)),
        ("concurrent", f"{c.concurrent:,}", money(c.price_concurrent), money(c.concurrent_annual)),
        ("total", "", "", money(c.total_annual)),
        ("named only", f"{c.named_only:,}", money(c.price_named_only), money(c.named_only_annual)),
        ("saving", "", percent(c.saving_pct), money(c.saving)),
    ]
    widths = [max(len(row[i]) for row in lines) for i in range(4)]
    table = [
        "  ".join([row[0].ljust(widths[0])] + [row[i].rjust(widths[i]) for i in (1, 2, 3)])
        for row in lines
    ]
    summary = (
        f"{money(c.named_annual)} + {money(c.concurrent_annual)} = {money(c.total_annual)} "
        f"{currency} a year against {money(c.named_only_annual)} named-only; "
        f"{money(c.saving)} saved ({percent(c.saving_pct)})."
    )
    return "\n".join([*table, "", summary])
