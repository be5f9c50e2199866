"""Read and write IDX files (the MNIST file format), gzip-compressed or plain.

An IDX file is a big-endian header followed by the raw array bytes:
two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions,
then one 32-bit size per dimension. MNIST images are ``(N, 28, 28)`` and labels ``(N,)``.
"""

from __future__ import annotations

import gzip
import io
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._stream import StreamCheck

_UBYTE = 0x08
_READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class IdxBlob:
    """The bytes of one IDX file as found on disk, with both SHA-256 digests.

    ``file_sha256`` is the digest of the bytes on disk (the `.gz` if compressed);
    ``idx_sha256`` is the digest of the decompressed IDX bytes. Official releases can
    be recompressed (Debian does this), so a file is official if either digest matches.
    """

    path: Path
    idx: bytes
    file_sha256: str
    idx_sha256: str


def load_blob(path: Path, *, max_idx: int | None = None) -> IdxBlob:
    """Read ``path``, decompressing it if it is gzip; raise ValueError if it is corrupt.

    With ``max_idx``, a file whose IDX bytes would exceed that many bytes is rejected as
    soon as it does, without decompressing the rest.
    """
    path = Path(path)
    check = StreamCheck(max_idx=max_idx, keep=True)
    try:
        with path.open("rb") as file:
            while chunk := file.read(_READ_CHUNK):
                check.update(chunk)
        checked = check.finish()
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    return IdxBlob(path, checked.idx, checked.file_sha256, checked.idx_sha256)


def parse_idx(idx: bytes, name: str, ndim: int) -> np.ndarray:
    """Parse IDX bytes holding an unsigned-byte array with ``ndim`` dimensions.

    ``name`` is used in error messages. Raises ValueError on a wrong magic number
    or when the data length does not match the header.
    """
    magic_expected = (_UBYTE << 8) | ndim
    kind = f"IDX{ndim} unsigned-byte {'images' if ndim == 3 else 'labels'}"
    if len(idx) < 4:
        raise ValueError(f"{name}: file too short ({len(idx)} bytes) to hold an IDX header")
    (magic,) = struct.unpack(">I", idx[:4])
    if magic != magic_expected:
        raise ValueError(
            f"{name}: expected magic number {magic_expected} (0x{magic_expected:08x}, {kind}), "
            f"found {magic} (0x{magic:08x})"
        )
    header = 4 + 4 * ndim
    if len(idx) < header:
        raise ValueError(f"{name}: expected a {header}-byte header, file has {len(idx)} bytes")
    shape = struct.unpack(f">{ndim}I", idx[4:header])
    expected = int(np.prod(shape, dtype=np.int64))
    found = len(idx) - header
    if found != expected:
        dims = " x ".join(str(s) for s in shape)
        raise ValueError(
            f"{name}: expected {expected} data bytes after the {header}-byte header "
            f"(shape {dims}), found {found}"
        )
    return np.frombuffer(idx, dtype=np.uint8, offset=header).reshape(shape)


def encode_idx(array: np.ndarray) -> bytes:
    """Return the IDX bytes for a uint8 array."""
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8:
        raise TypeError(f"IDX writer only handles uint8 arrays, got {array.dtype}")
    header = struct.pack(f">I{array.ndim}I", (_UBYTE << 8) | array.ndim, *array.shape)
    return header + array.tobytes()


def gzip_bytes(data: bytes) -> bytes:
    """Gzip ``data`` reproducibly: no file name and mtime 0, so equal input gives equal bytes."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(data)
    return buf.getvalue()
