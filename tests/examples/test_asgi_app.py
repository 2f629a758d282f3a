from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.examples.conftest import NAMED, POOLED, LoadExample, sign_in


def test_the_person_is_in_the_scope(load_example: LoadExample) -> None:
    example = load_example("asgi_app")
    with TestClient(example.app, follow_redirects=False) as browser:
        sign_in(browser, POOLED.email)
        response = browser.get("/anything")
    assert response.json() == {"user": POOLED.email, "licence": "concurrent", "groups": ["hr"]}


def test_a_stranger_is_sent_to_login(load_example: LoadExample) -> None:
    example = load_example("asgi_app")
    with TestClient(example.app, follow_redirects=False) as browser:
        response = browser.get("/", headers={"Accept": "text/html"})
    assert response.status_code == 302


def test_the_websocket_is_gated(load_example: LoadExample) -> None:
    example = load_example("asgi_app")
    with TestClient(example.app, follow_redirects=False) as browser:
        with pytest.raises(WebSocketDisconnect) as refused, browser.websocket_connect("/ws"):
            pass
        assert refused.value.code == 1008
        sign_in(browser, NAMED.email)
        with browser.websocket_connect("/ws") as socket:
            assert json.loads(socket.receive_text())["licence"] == "named"
