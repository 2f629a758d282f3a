"""The demo's prices and its weeks of simulated recorded use: the cost panel and the
recommended split have figures from the first page."""

from __future__ import annotations

import asyncio

from halo_gate.admin.recommend import Recommender
from halo_gate.cli.demo import IdentityProvider, build_demo_app
from halo_gate.cli.seed import seed_record
from halo_gate.licensing import LicenceEngine, connect


def test_the_demo_sets_the_guides_prices() -> None:
    idp = IdentityProvider("http://127.0.0.1:9", "demo", "secret", None)  # type: ignore[arg-type]
    settings = build_demo_app(idp).settings
    assert (settings.price_named, settings.price_concurrent, settings.price_named_only) == (
        70,
        140,
        100,
    )
    assert settings.currency == "GBP"


async def test_seeded_weeks_give_a_recommendation_at_once() -> None:
    engine = LicenceEngine(connect(None), instance="demo")
    await engine.configure(concurrent_seats=2, named_seats=1, named_users=["alice@example.com"])
    written = await seed_record(engine, days=21, retention_days=30)
    assert written > 10_000
    idp = IdentityProvider("http://127.0.0.1:9", "demo", "secret", None)  # type: ignore[arg-type]
    recommender = Recommender(engine, build_demo_app(idp, seed=False).settings)
    answer = await recommender.get()
    for _ in range(600):  # computed in a process of its own: at most a minute here
        if answer["status"] != "computing":
            break
        await asyncio.sleep(0.1)
        answer = await recommender.get()
    assert answer["status"] == "ok", answer
    assert answer["people"] == 500 and answer["days_recorded"] >= 20
    assert answer["cost"]["named_only_annual"] == 500 * 100 * 12
    plan = answer["plan"]
    assert 100 <= len(plan["named"]) <= 200 and 40 <= plan["concurrent_slots"] <= 120
    await engine.store.aclose()
