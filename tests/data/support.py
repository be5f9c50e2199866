"""Helpers shared by the data-layer tests (this module holds no tests itself).

Fabricated IDX files, an isolated cache, and local servers on 127.0.0.1 that misbehave
in the ways real mirrors and proxies do. Every server loop is bounded in time and bytes
and stops by itself, so a test that fails cannot leave one running.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import platformdirs

from course_lib.data import mnist
from course_lib.data.mnist import FILES

SERVER_TIME_LIMIT = 20.0  # seconds any one misbehaving answer may last


def encode_idx(array: np.ndarray) -> bytes:
    """The IDX bytes of a uint8 array (written independently of the loader's parser)."""
    return struct.pack(f">I{array.ndim}I", 0x0800 | array.ndim, *array.shape) + array.tobytes()


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def fake_arrays(seed: int, n_train: int = 60, n_test: int = 20):
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        (np.arange(n_train) % 10).astype(np.uint8),
        rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        (np.arange(n_test) % 10).astype(np.uint8),
    )


def make_fake(seed: int = 0) -> SimpleNamespace:
    """Small fabricated IDX files, their digests, and wrong-but-valid variants."""
    arrays = fake_arrays(seed)
    idx = {name: encode_idx(a) for name, a in zip(FILES, arrays, strict=True)}
    files = {f"{name}.gz": gzip_bytes(data) for name, data in idx.items()}
    # Valid gzip + valid IDX, but one byte differs: only the checksum can catch it.
    bad = {f"{n}.gz": gzip_bytes(d[:-1] + bytes([d[-1] ^ 0xFF])) for n, d in idx.items()}
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in {**idx, **files}.items()}
    return SimpleNamespace(arrays=arrays, idx=idx, files=files, bad=bad, digests=digests)


def make_official(monkeypatch, fake: SimpleNamespace, dataset: str = "mnist") -> None:
    """Make the fabricated files the 'official' release of ``dataset`` for this test."""
    monkeypatch.setitem(mnist.SHA256, dataset, fake.digests)


def isolate(monkeypatch, tmp_path: Path) -> SimpleNamespace:
    """No network, no repo data/ folder, no environment overrides, short time limits."""
    user_cache = tmp_path / "user-cache"
    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda *a, **k: str(user_cache))
    monkeypatch.setattr(mnist, "CHECKOUT_DATA_DIR", tmp_path / "no-checkout" / "data")
    monkeypatch.setattr(mnist, "TIMEOUT", 0.3)
    monkeypatch.setattr(mnist, "DEADLINE", 5.0)
    monkeypatch.setattr(mnist, "PROGRESSBAR", False)
    for dataset in mnist.MIRRORS:
        monkeypatch.setitem(mnist.MIRRORS, dataset, [])
        monkeypatch.setitem(mnist.SYSTEM_DIRS, dataset, [])
    for var in ("COURSE_LIB_DATA", "COURSE_LIB_MNIST_SOURCE"):
        monkeypatch.delenv(var, raising=False)
    # A proxy from the environment must not see requests meant for the local server.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    return SimpleNamespace(user_cache=user_cache)


def gzip_bomb(decompressed_mb: int) -> bytes:
    """A small gzip file (members of 10 MB of zeros) that inflates to ``decompressed_mb``."""
    member = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    one = member.compress(b"\0" * (10 << 20)) + member.flush()
    return one * (decompressed_mb // 10)


class LocalServer:
    """An HTTP server on 127.0.0.1; the first path segment picks the behaviour.

    /good/, /bad/ (wrong bytes), /404/, /500/, /slow/ (answers after 1 s), /trickle/ (one
    byte every 50 ms, forever), /endless/ (zeros, no length, forever), /huge/ (announces
    10 GB), /bomb/ (a gzip bomb), /short/ (half the announced bytes, then closes),
    /gate/ (half the file, then the rest once ``gate.set()``).
    """

    def __init__(
        self, fake: SimpleNamespace, bomb: bytes = b"", tls: ssl.SSLContext | None = None
    ) -> None:
        self.hits: list[str] = []
        self.gate = threading.Event()
        self.half_sent = threading.Event()  # /gate/ has sent half a file and now waits
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.hits.append(self.path)
                path = self.path
                if path.startswith("http://"):  # asked as a proxy: drop the scheme and host
                    path = "/" + path.split("/", 3)[3]
                mode, _, name = path.strip("/").partition("/")
                try:
                    server.answer(self, mode, name)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up, as it should

            def log_message(self, *args):
                pass

        self.fake, self.bomb = fake, bomb
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        scheme = "http"
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.base = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}/"

    def url(self, mode: str) -> str:
        return f"{self.base}{mode}/"

    def answer(self, handler, mode: str, name: str) -> None:
        if mode == "slow":
            time.sleep(1.0)
        if mode in ("404", "500"):
            handler.send_error(int(mode))
            return
        body = (self.fake.bad if mode == "bad" else self.fake.files).get(name)
        if body is None:
            handler.send_error(404)
            return
        if mode == "bomb":
            body = self.bomb
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        if mode == "huge":
            handler.send_header("Content-Length", str(10**10))
        elif mode != "endless":
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        end = time.monotonic() + SERVER_TIME_LIMIT
        if mode == "trickle":
            for byte in body:
                if time.monotonic() > end:
                    return
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(0.05)
        elif mode in ("endless", "huge"):
            chunk = bytes(1 << 16)
            for _ in range(4096):  # 256 MB at most
                if time.monotonic() > end:
                    return
                handler.wfile.write(chunk)
        elif mode == "short":
            handler.wfile.write(body[: len(body) // 2])
            handler.close_connection = True
        elif mode == "gate":
            handler.wfile.write(body[: len(body) // 2])
            handler.wfile.flush()
            self.half_sent.set()
            self.gate.wait(SERVER_TIME_LIMIT)
            handler.wfile.write(body[len(body) // 2 :])
        else:
            handler.wfile.write(body)

    def __enter__(self) -> LocalServer:
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never answers; counts the connections."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/"
        self.connections: list[socket.socket] = []
        self._stop = threading.Event()

    def _serve(self) -> None:
        end = time.monotonic() + SERVER_TIME_LIMIT * 3
        while not self._stop.is_set() and time.monotonic() < end:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections.append(conn)  # held open, never read, never answered

    def __enter__(self) -> SilentServer:
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self.connections:
            conn.close()
        self.sock.close()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connections are refused at once."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def self_signed_tls(folder: Path) -> tuple[ssl.SSLContext, Path] | None:
    """A server TLS context for 127.0.0.1 and its certificate file, or None without openssl."""
    if shutil.which("openssl") is None:
        return None
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
        + ["-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context, cert


def write_files(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def files_in(folder: Path) -> list[str]:
    """The names of all files under ``folder`` (relative), sorted."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def assert_equal_to(result, arrays) -> None:
    (x, d), (xt, dt) = result
    np.testing.assert_array_equal(x.reshape(arrays[0].shape), arrays[0])
    np.testing.assert_array_equal(d, arrays[1])
    np.testing.assert_array_equal(xt.reshape(arrays[2].shape), arrays[2])
    np.testing.assert_array_equal(dt, arrays[3])


_CHILD = """
import json, sys
from pathlib import Path
import platformdirs
from course_lib.data import load_mnist, mnist
cfg = json.loads(sys.argv[1])
platformdirs.user_cache_dir = lambda *a, **k: cfg["cache"]
mnist.CHECKOUT_DATA_DIR = Path(cfg["cache"]) / "no-checkout"
mnist.PROGRESSBAR = False
mnist.TIMEOUT = 30.0
mnist.MIRRORS["mnist"] = cfg["mirrors"]
mnist.SHA256["mnist"] = cfg["digests"]
load_mnist(source="download")
print("child done")
"""


def start_child_download(cache: Path, mirrors: list[str], fake: SimpleNamespace):
    """Another process running ``load_mnist(source='download')`` into the same cache."""
    cfg = {"cache": str(cache), "mirrors": mirrors, "digests": fake.digests}
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, json.dumps(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
