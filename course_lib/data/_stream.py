"""Check a file's bytes as they stream in: SHA-256, gzip decompression and size caps.

A download or a file on disk is fed in chunks. The bytes are hashed as they arrive; if
they start with the gzip magic, they are decompressed on the fly, in pieces of at most
``OUT_CHUNK`` bytes (``zlib``'s ``max_length``), and the decompressed bytes are hashed
too. Both running totals are checked against caps after every piece, so a gzip bomb or
an endless stream is stopped as soon as it exceeds the size of the real file, and
nothing larger than that is ever held in memory.
"""

from __future__ import annotations

import hashlib
import zlib
from typing import NamedTuple

GZIP_MAGIC = b"\x1f\x8b"
OUT_CHUNK = 1 << 20  # decompressed bytes produced per step
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer around a deflate stream


class TooLargeError(ValueError):
    """The data is bigger than the file it claims to be."""


class Checked(NamedTuple):
    """What a stream turned out to be: both digests, whether it was gzip, its IDX bytes."""

    file_sha256: str
    idx_sha256: str
    gzipped: bool
    idx: bytes | None  # only when asked to keep it


class StreamCheck:
    """Feed chunks with ``update``, then call ``finish``; raises ValueError on bad data.

    ``max_size`` caps the bytes as they come (compressed or not), ``max_idx`` the
    decompressed IDX bytes; None means no cap. ``keep=True`` keeps the IDX bytes for
    parsing (a file read from disk), otherwise they are only hashed (a download).
    """

    def __init__(
        self, *, max_size: int | None = None, max_idx: int | None = None, keep: bool = False
    ) -> None:
        self._max_size = max_size
        self._max_idx = max_idx
        self._keep = keep
        self._file_hash = hashlib.sha256()
        self._idx_hash = hashlib.sha256()
        self._size = 0
        self._idx_size = 0
        self._head = b""  # the first bytes, until there are enough to see the gzip magic
        self._gzipped: bool | None = None
        self._inflater = zlib.decompressobj(_GZIP_WBITS)
        self._pieces: list[bytes] = []

    def update(self, chunk: bytes) -> None:
        """Take the next chunk of the stream."""
        self._size += len(chunk)
        if self._max_size is not None and self._size > self._max_size:
            raise TooLargeError(f"larger than the official file (over {self._max_size:,} bytes)")
        self._file_hash.update(chunk)
        if self._gzipped is None:
            self._head += chunk
            if len(self._head) < len(GZIP_MAGIC):
                return
            # Trust the magic bytes, not the name: a server may have decompressed a .gz.
            self._gzipped = self._head.startswith(GZIP_MAGIC)
            chunk, self._head = self._head, b""
        if self._gzipped:
            self._inflate(chunk)
        else:
            self._take(chunk)

    def finish(self) -> Checked:
        """End of the stream: return the digests, or raise ValueError if it was cut short."""
        if self._gzipped is None:  # fewer than two bytes in all
            self._gzipped = False
            self._take(self._head)
        if self._gzipped and not self._inflater.eof:
            self._inflate(b"")
            if not self._inflater.eof:
                raise ValueError("not a valid gzip file: it ends early (truncated?)")
        file_sha = self._file_hash.hexdigest()
        idx_sha = self._idx_hash.hexdigest() if self._gzipped else file_sha
        idx = b"".join(self._pieces) if self._keep else None
        self._pieces = []
        return Checked(file_sha, idx_sha, self._gzipped, idx)

    def _inflate(self, data: bytes) -> None:
        try:
            while True:
                inflater = self._inflater
                if inflater.eof:
                    # Another gzip member may follow; zero bytes after the last are padding.
                    data = data.lstrip(b"\0")
                    if not data:
                        return
                    inflater = self._inflater = zlib.decompressobj(_GZIP_WBITS)
                out = inflater.decompress(data, OUT_CHUNK)
                self._take(out)
                data = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
                # A full piece may leave more output inside zlib even with no input left.
                if not data and len(out) < OUT_CHUNK:
                    return
        except zlib.error as exc:
            raise ValueError(f"not a valid gzip file ({exc})") from exc

    def _take(self, idx_bytes: bytes) -> None:
        self._idx_size += len(idx_bytes)
        if self._max_idx is not None and self._idx_size > self._max_idx:
            once = " once decompressed" if self._gzipped else ""
            raise TooLargeError(
                f"larger than the official file{once} (over {self._max_idx:,} bytes)"
            )
        self._idx_hash.update(idx_bytes)
        if self._keep:
            self._pieces.append(idx_bytes)
