from __future__ import annotations

from starlette.testclient import TestClient

from tests.examples.conftest import NAMED, POOLED, LoadExample, sign_in


def test_the_dependency_yields_the_licensed_person(load_example: LoadExample) -> None:
    example = load_example("fastapi_app")
    with TestClient(example.app, follow_redirects=False) as browser:
        sign_in(browser, POOLED.email)
        whoami = browser.get("/api/whoami")
        home = browser.get("/")
    assert whoami.status_code == 200
    assert whoami.json() == {
        "identity": POOLED.email,
        "name": POOLED.name,  # the identity provider's name claim
        "licence": "concurrent",
        "groups": ["hr"],
    }
    assert "a concurrent slot" in home.text


def test_a_named_person_is_seen_as_named(load_example: LoadExample) -> None:
    example = load_example("fastapi_app")
    with TestClient(example.app, follow_redirects=False) as browser:
        sign_in(browser, NAMED.email)
        assert browser.get("/api/whoami").json()["licence"] == "named"


def test_strangers_never_reach_the_routes(load_example: LoadExample) -> None:
    example = load_example("fastapi_app")
    with TestClient(example.app, follow_redirects=False) as browser:
        api = browser.get("/api/whoami", headers={"Accept": "application/json"})
        docs = browser.get("/docs", headers={"Accept": "text/html"})
    assert api.status_code == 401
    assert docs.status_code == 302


def test_the_dependency_refuses_when_served_without_the_gateway(
    load_example: LoadExample,
) -> None:
    example = load_example("fastapi_app")
    with TestClient(example.api) as client:
        # Without HaloGate nobody sets scope["auth"]; the dependency must not let that through.
        response = client.get("/api/whoami")
    assert response.status_code == 401
