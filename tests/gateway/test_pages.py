"""Pages: HTML for browsers, JSON for others; plain, accessible, no external assets."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest
from starlette.datastructures import Headers
from starlette.responses import Response

from halo_gate import pages
from halo_gate.licensing import Decision


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),
        ("application/xhtml+xml", True),
        ("application/json", False),
        ("*/*", False),
        ("", False),
        ("text/html;q=0", False),
    ],
)
def test_html_is_for_requests_that_name_it(accept: str, html: bool) -> None:
    assert pages.wants_html(Headers({"accept": accept})) is html


def test_the_pool_full_page_is_self_contained_and_retries_by_itself() -> None:
    response = pages.pool_full(
        True,
        capacity=100,
        in_use=100,
        retry_after=600,
        retry_url="/reports",
        logout_url="/_halo/logout",
        now=0,
    )
    body = bytes(response.body).decode()
    assert response.status_code == 503
    assert response.headers["retry-after"] == "600"
    assert '<html lang="en">' in body
    assert 'name="viewport"' in body
    assert '<meta http-equiv="refresh" content="30; url=/reports">' in body
    assert "All 100 concurrent licences are in use" in body
    assert "00:10:00 UTC" in body
    assert 'href="/reports"' in body and 'href="/_halo/logout"' in body
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", body)


def test_text_from_outside_is_escaped() -> None:
    response = pages.error(True, 400, "login_failed", "Sign-in failed", "<script>x</script>", [])
    body = bytes(response.body).decode()
    assert "<script>x" not in body
    assert "&lt;script&gt;x&lt;/script&gt;" in body


def _every_page() -> dict[str, Response]:
    refused = Decision(
        outcome="pool_full",
        licence=None,
        expires_at=0,
        capacity=1,
        in_use=1,
        retry_after=60,
        position=2,
        estimated_wait=120,
    )
    pages_built: dict[str, Response] = {}
    for html in (True, False):
        kind = "html" if html else "json"
        pages_built |= {
            f"pool_full_{kind}": pages.pool_full(
                html, capacity=1, in_use=1, retry_after=60, retry_url="/", logout_url="/"
            ),
            f"waiting_{kind}": pages.waiting(
                html, refused, poll=5, retry_url="/", leave_url="/", csrf_token="t", now=0.0
            ),
            f"no_licence_{kind}": pages.no_licence(html, "No licence.", "/"),
            f"store_unavailable_{kind}": pages.store_unavailable(html, retry_url="/"),
            f"error_{kind}": pages.error(html, 400, "bad", "Bad", "Bad request.", []),
            f"login_required_{kind}": pages.login_required(html, "/_halo/login"),
        }
    pages_built["logout"] = pages.logout_page(
        person="ann@x.org", csrf_token="t", logout_url="/_halo/logout", login_url="/_halo/login"
    )
    pages_built["ended_by_admin"] = pages.ended_by_admin("/_halo/login")
    return pages_built


@pytest.mark.parametrize("name", sorted(_every_page()))
def test_no_page_of_the_gateway_may_be_framed(name: str) -> None:
    response = _every_page()[name]
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"


def test_the_waiting_page_gives_a_range_when_few_slots_freed_lately() -> None:
    base = Decision("pool_full", None, 0, 2, 2, 10, position=1, estimated_wait=2513)
    thin = replace(base, wait_range=(306, 13047), wait_thin=True)
    steady = replace(base, wait_range=(7, 153), estimated_wait=46)
    shown = {}
    for name, decision in (("thin", thin), ("steady", steady)):
        page = pages.waiting(
            True, decision, poll=10, retry_url="/", leave_url="/out", csrf_token="t", now=0.0
        )
        found = re.search(r'data-testid="estimate">([^<]*)<', bytes(page.body).decode())
        shown[name] = found.group(1) if found else ""
        answer = pages.waiting(
            False, decision, poll=10, retry_url="/", leave_url="/out", csrf_token="t", now=0.0
        )
        assert json.loads(bytes(answer.body))["estimated_wait_range"] == list(
            decision.wait_range or ()
        )
    assert shown == {
        "thin": "between 5 minutes and 3.6 hours: few licences have freed lately",
        "steady": "under a minute",
    }
