"""One HTTP(S) download with three limits: a stall timeout, a deadline and a size cap.

The standard library's ``urllib.request`` does the transfer, so proxies from the
environment (``https_proxy``, ``no_proxy`` ...) are honoured as urllib always does, and
no third-party HTTP stack is needed. The limits:

- ``timeout``: seconds without progress (connecting, the first byte of the answer, or
  any later read) before the mirror is given up: a silent network fails fast.
- ``deadline``: seconds for the whole transfer, headers included. A read timeout alone
  never ends a mirror that trickles a byte now and then, so a timer shuts the
  connection's socket down when the deadline passes, which wakes any blocked read.
- ``max_size``: bytes; a longer answer (announced or streamed) is cut off.

Every failure is a ``FetchError`` whose message is one short line without file paths.
"""

from __future__ import annotations

import functools
import http.client
import socket
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from urllib.parse import urlsplit

CHUNK = 1 << 16
USER_AGENT = "course_lib (Python urllib)"


class FetchError(OSError):
    """A transfer failed; ``reached`` says whether the server answered at all."""

    def __init__(self, reason: str, *, reached: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reached = reached


class _Deadline:
    """Shuts the sockets of a transfer down once ``seconds`` have passed."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._connections: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._stopped = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            self._connections.append(connection)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
        self._timer.cancel()

    def _expire(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self.expired = True
            sockets = [c.sock for c in self._connections if c.sock is not None]
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed, or mid-handshake: the read timeout ends it soon


def _watched(base: type[http.client.HTTPConnection]) -> type[http.client.HTTPConnection]:
    class Watched(base):
        def __init__(self, *args, deadline: _Deadline, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._deadline = deadline
            deadline.watch(self)

        def connect(self) -> None:
            super().connect()
            if self._deadline.expired:  # the socket did not exist yet when time ran out
                self.close()
                raise TimeoutError("deadline passed while connecting")

    return Watched


_HTTPConnection = _watched(http.client.HTTPConnection)
_HTTPSConnection = _watched(http.client.HTTPSConnection)


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def http_open(self, req):
        return self.do_open(functools.partial(_HTTPConnection, deadline=self._deadline), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def https_open(self, req):
        connection = functools.partial(_HTTPSConnection, deadline=self._deadline)
        return self.do_open(connection, req, context=self._context)


def fetch(url: str, *, timeout: float, deadline: float, max_size: int) -> Iterator[bytes]:
    """Yield the body of ``url`` in chunks as they arrive; raise FetchError on failure.

    The first chunk is yielded as soon as it arrives, so a caller can check the data as
    it streams; ``max_size`` is enforced before any chunk that would exceed it is yielded.
    """
    guard = _Deadline(deadline)
    opener = urllib.request.build_opener(_HTTPHandler(guard), _HTTPSHandler(guard))
    request = urllib.request.Request(
        url, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    )
    reached = False
    try:
        with opener.open(request, timeout=timeout) as response:
            reached = True
            length = _content_length(response)
            if length is not None and length > max_size:
                raise FetchError(
                    f"offers {length:,} bytes, more than the official file (at most {max_size:,})",
                    reached=True,
                )
            received = 0
            # read1 returns whatever has arrived: a trickle still reaches the checks below.
            while chunk := response.read1(CHUNK):
                received += len(chunk)
                if received > max_size:
                    raise FetchError(
                        f"larger than the official file (over {max_size:,} bytes)",
                        reached=True,
                    )
                if guard.expired:
                    break
                yield chunk
            if guard.expired:
                raise FetchError(f"did not finish within {deadline:g} s", reached=True)
            if length is not None and received < length:
                raise FetchError(
                    f"the connection closed after {received:,} of {length:,} bytes",
                    reached=True,
                )
    except FetchError:
        raise
    except urllib.error.HTTPError as exc:
        exc.close()
        raise FetchError(f"HTTP {exc.code} {exc.reason}", reached=True) from None
    except (OSError, http.client.HTTPException) as exc:
        if guard.expired:
            raise FetchError(f"did not finish within {deadline:g} s", reached=reached) from None
        raise FetchError(_describe(exc, timeout, url, reached), reached=reached) from None
    finally:
        guard.stop()


def _content_length(response) -> int | None:
    try:
        return int(response.headers.get("Content-Length", ""))
    except ValueError:
        return None


def _describe(exc: BaseException, timeout: float, url: str, reached: bool) -> str:
    """One short line for a failed transfer, without the noise of nested exceptions."""
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        exc = exc.reason
    if isinstance(exc, TimeoutError):
        return f"no data for {timeout:g} s" if reached else f"no answer within {timeout:g} s"
    if isinstance(exc, socket.gaierror):
        return f"cannot look up {urlsplit(url).hostname} (no network?)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the server closed the connection without answering"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({exc.verify_message})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."
