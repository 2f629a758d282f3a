"""``examples/own_login_app.py``: the app's own login form, then a licence for each person."""

from __future__ import annotations

import re

import httpx2
import pytest
from starlette.testclient import TestClient

from tests.examples.conftest import LoadExample


def test_own_login_then_a_licence_and_sign_out_frees_it(
    load_example: LoadExample, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HALO_GATE_IDENTITY", "app")
    example = load_example("own_login_app")
    # One client (one event loop for the store's connections); each person is a cookie jar.
    with TestClient(example.app, follow_redirects=False) as browser:
        assert browser.get("/").headers["location"].startswith("http://testserver/login")
        assert "<form" in browser.get("/login").text  # the app's own page, untouched

        assert browser.post("/login", data={"name": "Ann"}).status_code == 303
        home = browser.get("/")
        assert home.status_code == 200
        assert "Hello, Ann" in home.text
        assert "a concurrent slot" in home.text
        ann = httpx2.Cookies(browser.cookies)

        browser.cookies = httpx2.Cookies()
        assert browser.post("/login", data={"name": "Bob"}).status_code == 303
        full = browser.get("/", headers={"accept": "text/html"})
        assert full.status_code == 503
        assert "The one concurrent licence is in use" in full.text  # a place in line
        bob = httpx2.Cookies(browser.cookies)

        browser.cookies = ann
        form = browser.get("/_halo/logout", headers={"accept": "text/html"})
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        out = browser.post(
            "/_halo/logout",
            data={"csrf_token": token.group(1)},
            headers={"origin": str(browser.base_url).rstrip("/")},
            follow_redirects=True,
        )
        assert out.url.path == "/login"

        browser.cookies = bob
        example.licensed.engine.clock_offset += 6  # past the hold on bob's refusal
        assert "Hello, Bob" in browser.get("/").text
