from __future__ import annotations

from starlette.testclient import TestClient

from tests.examples.conftest import NAMED, POOLED, LoadExample, sign_in


def test_home_sends_a_stranger_to_login(load_example: LoadExample) -> None:
    example = load_example("starlette_app")
    with TestClient(example.app, follow_redirects=False) as browser:
        home = browser.get("/", headers={"Accept": "text/html"})
        api = browser.get("/api/whoami", headers={"Accept": "application/json"})
    assert home.status_code == 302
    assert home.headers["location"].startswith("/_halo/login?next=")
    assert api.status_code == 401
    assert api.json()["error"] == "login_required"


def test_home_shows_the_person_and_the_named_seat(load_example: LoadExample) -> None:
    example = load_example("starlette_app")
    with TestClient(example.app, follow_redirects=False) as browser:
        sign_in(browser, NAMED.email)
        home = browser.get("/")
        whoami = browser.get("/api/whoami")
    assert home.status_code == 200
    assert NAMED.email in home.text
    assert "a named seat" in home.text
    assert whoami.json() == {
        "user": NAMED.email,
        "name": NAMED.name,  # the identity provider's name claim
        "licence": "named",
        "groups": ["agents"],
    }


def test_whoami_reports_a_concurrent_slot(load_example: LoadExample) -> None:
    example = load_example("starlette_app")
    with TestClient(example.app, follow_redirects=False) as browser:
        sign_in(browser, POOLED.email)
        whoami = browser.get("/api/whoami").json()
        home = browser.get("/").text
    assert whoami["licence"] == "concurrent"
    assert whoami["groups"] == ["hr"]
    assert "a concurrent slot" in home
