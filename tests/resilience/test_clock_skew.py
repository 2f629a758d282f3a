"""Hosts whose clocks differ by less than HALO_GATE_CLOCK_SKEW accept each other's cookies."""

from __future__ import annotations

from halo_gate.session import Session, SessionCodec

NOW = 1_800_000_000.0
SESSION = Session("sid-1", "ann@example.com", "concurrent", int(NOW))


def hosts(offset: float, skew: int) -> tuple[SessionCodec, SessionCodec, list[float]]:
    """A host ``offset`` seconds ahead signs; a host on the true clock reads."""
    now = [NOW]
    ahead = SessionCodec(["key-a"], max_age=1800, clock=lambda: now[0] + offset)
    behind = SessionCodec(["key-a"], max_age=1800, clock=lambda: now[0], skew=skew)
    return ahead, behind, now


def test_a_cookie_renewed_a_moment_ahead_is_accepted_by_a_host_behind() -> None:
    # 100 ms apart across a second boundary: the signature says one second in the future.
    ahead, behind, now = hosts(0.1, skew=5)
    now[0] = NOW + 0.95
    value = ahead.encode(SESSION)
    assert behind.decode(value) == SESSION  # itsdangerous's own check would refuse it
    assert behind.decode(value) == SESSION  # and so would the remembered value's


def test_without_tolerance_the_same_cookie_is_refused() -> None:
    ahead, behind, now = hosts(0.1, skew=0)
    now[0] = NOW + 0.95
    assert behind.decode(ahead.encode(SESSION)) is None


def test_a_cookie_further_in_the_future_than_the_skew_is_refused() -> None:
    ahead, behind, now = hosts(7, skew=5)
    value = ahead.encode(SESSION)
    assert behind.decode(value) is None
    now[0] = NOW + 2  # once the reader's clock is within the skew, it is accepted
    assert behind.decode(value) == SESSION


def test_the_idle_limit_still_holds_with_a_skew() -> None:
    ahead, behind, now = hosts(0, skew=5)
    value = ahead.encode(SESSION)
    now[0] = NOW + 1800
    assert behind.decode(value) == SESSION
    now[0] = NOW + 1801
    assert behind.decode(value) is None
    fresh = SessionCodec(["key-a"], max_age=1800, clock=lambda: now[0], skew=5)
    assert fresh.decode(value) is None
