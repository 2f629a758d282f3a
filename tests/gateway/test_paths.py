"""The one local-path function, request targets written back, and which prefixes a path is
under: the same judgement for the middleware and forward auth."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from halo_gate.gateway.paths import (
    PathPrefixes,
    is_host_like,
    local_path,
    request_target,
    split_target,
)


@pytest.mark.parametrize(
    "value",
    [
        "//evil.test",
        "///evil.test/",
        "/\\evil.test",
        "https://evil.test/",
        "evil.test",
        "",
        None,
        "/\tevil",
        "/a\nb",
        "/x\\y",
    ],
)
def test_anything_that_could_leave_the_site_becomes_root(value: str | None) -> None:
    assert local_path(value) == "/"


@given(st.text())
def test_a_local_path_never_names_another_host(value: str) -> None:
    resolved = urlsplit(urljoin("https://gate.test/a/b?c", local_path(value)))
    assert resolved.netloc == "gate.test"
    assert resolved.scheme == "https"


def test_a_request_target_keeps_its_query_and_is_written_back_encoded() -> None:
    assert request_target("/reports/q 1", b"y=1&z=2") == "/reports/q%201?y=1&z=2"
    # A server decodes /%2F%2Fevil.test/ to //evil.test/: written back it must not be a host.
    assert request_target("//evil.test/", b"") == "/"
    assert request_target("/\\\\evil.test/", b"") == "/%5C%5Cevil.test/"  # encoded: a path


def test_targets_are_split_as_a_server_reads_a_request_line() -> None:
    # urlsplit would take "admin" for a host here and leave "/pub/x".
    assert split_target("//admin/pub/x?q=1") == ("//admin/pub/x", "q=1")
    assert split_target("/a%20b#frag") == ("/a b", "")
    assert is_host_like("//admin/pub/x")
    assert is_host_like("/\\admin")
    assert not is_host_like("/admin//x")


def test_prefixes_refuse_dot_and_semicolon_segments() -> None:
    public = PathPrefixes(("/pub",))
    assert "/pub" in public and "/pub/x" in public
    for path in (
        "/pub/../admin",
        "/pub/%2e%2e/admin",
        "/pub/..;/admin",
        "/pub/x;jsessionid=1",
        "/pub/%3b/admin",
        "/public",
        "//pub/x",
    ):
        assert path not in public, path
