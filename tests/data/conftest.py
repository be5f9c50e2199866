"""Fixtures of the loader's tests: fabricated IDX files, a local HTTP server, isolation.

No test touches the internet: mirrors point at a local http.server on 127.0.0.1 that
serves small fabricated IDX files, and every cache folder lives under tmp_path.
"""

import pytest

from tests.data.support import LocalServer, gzip_bomb, isolate, make_fake, make_official


@pytest.fixture
def fake():
    """Small fabricated IDX files, their digests, and wrong-but-valid variants."""
    return make_fake(0)


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No network, no repo data/ folder, no environment overrides, short timeouts."""
    return isolate(monkeypatch, tmp_path)


@pytest.fixture
def fake_official(monkeypatch, fake):
    """Make the fabricated files the 'official' MNIST release for this test."""
    make_official(monkeypatch, fake)
    return fake


@pytest.fixture
def server(fake):
    """A local HTTP server (see LocalServer), with a 200 MB gzip bomb at /bomb/."""
    with LocalServer(fake, bomb=gzip_bomb(200)) as httpd:
        yield httpd
