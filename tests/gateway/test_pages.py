"""Pages: HTML for browsers, JSON for others; plain, accessible, no external assets."""

from __future__ import annotations

import re

import pytest
from starlette.datastructures import Headers

from halo_gate import pages


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
