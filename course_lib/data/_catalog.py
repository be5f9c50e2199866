"""Where each dataset can come from, and the SHA-256 of every official file.

This is the one hash table of the package (the bundled sample's digests live in
``sample/PROVENANCE``, written by ``scripts/build_mnist_sample.py``). Each entry holds
the digest of the official ``.gz`` download and of the decompressed IDX bytes; a file is
accepted when either matches, because Debian recompresses the archives (new ``.gz``
digest, same IDX bytes).

Sources of the digests:

- MNIST ``.gz``: the values that torchvision, tensorflow-datasets and many other
  projects pin for the files on yann.lecun.com and its mirrors. Decompressed IDX: the
  values several independent projects publish for the unpacked files (they agree with
  each other and with the file sizes 47,040,016 / 60,008 / 7,840,016 / 10,008 bytes).
- Fashion-MNIST ``.gz``: the upstream README's release files as pinned by
  tensorflow-datasets and torchvision. Decompressed IDX: computed from Debian's
  ``dataset-fashion-mnist`` package; other projects publish the same values.

Official sizes (``SIZES``): the decompressed IDX sizes follow from the shapes (a 16-byte
header and 60,000 or 10,000 images of 28 x 28 bytes; an 8-byte header and one byte per
label) and are the same for both datasets; the ``.gz`` sizes are those of the original
releases. A download is capped by them: nothing bigger than the real file is kept.

Mirrors are listed HTTPS first. The plain-HTTP ones remain as a last resort (for
networks whose proxy breaks TLS): the SHA-256 check, not the transport, is what makes a
file trustworthy, so a tampered file is rejected whichever way it came.

``MIRRORS``, ``SIZES`` and ``SYSTEM_DIRS`` are plain module-level dicts so tests can point
them at a local server, small files or a temporary folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

# Base names of the four IDX files, in the order (train images, train labels, test ...).
FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


NAMES = {"mnist": "MNIST", "fashion": "Fashion-MNIST"}


class Digest(NamedTuple):
    """Official SHA-256 of a file: of the ``.gz`` download and of the decompressed IDX."""

    gz: str
    idx: str

    def matches(self, file_sha256: str, idx_sha256: str) -> bool:
        """True if a file (as stored, or once decompressed) is this official release."""
        return file_sha256 == self.gz or idx_sha256 == self.idx


class Size(NamedTuple):
    """Official size in bytes of a file: the ``.gz`` download and the decompressed IDX."""

    gz: int
    idx: int


def max_download_size(size: Size) -> int:
    """The most bytes a genuine copy can take on the wire, compressed any way or not at all.

    Capped relative to the decompressed size, not to the official ``.gz``: a mirror or a
    distribution may recompress (Debian's files differ from the originals), and even
    gzip's worst case (stored blocks, a few bytes per 64 KiB) stays far below 1 % more.
    """
    return max(size.gz, size.idx + size.idx // 100 + 1024)


def idx_shape(name: str, idx_size: int) -> tuple[int, ...]:
    """The array shape that an IDX file of this name and size holds (images are 28 x 28)."""
    if "images" in name:
        return ((idx_size - 16) // (28 * 28), 28, 28)
    return (idx_size - 8,)


SHA256: dict[str, dict[str, Digest]] = {
    "mnist": {
        "train-images-idx3-ubyte": Digest(
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        ),
        "train-labels-idx1-ubyte": Digest(
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        ),
        "t10k-images-idx3-ubyte": Digest(
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        ),
        "t10k-labels-idx1-ubyte": Digest(
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ),
    },
    "fashion": {
        "train-images-idx3-ubyte": Digest(
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        ),
        "train-labels-idx1-ubyte": Digest(
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        ),
        "t10k-images-idx3-ubyte": Digest(
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        ),
        "t10k-labels-idx1-ubyte": Digest(
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        ),
    },
}

SIZES: dict[str, dict[str, Size]] = {
    "mnist": {
        "train-images-idx3-ubyte": Size(9_912_422, 47_040_016),
        "train-labels-idx1-ubyte": Size(28_881, 60_008),
        "t10k-images-idx3-ubyte": Size(1_648_877, 7_840_016),
        "t10k-labels-idx1-ubyte": Size(4_542, 10_008),
    },
    "fashion": {
        "train-images-idx3-ubyte": Size(26_421_880, 47_040_016),
        "train-labels-idx1-ubyte": Size(29_515, 60_008),
        "t10k-images-idx3-ubyte": Size(4_422_102, 7_840_016),
        "t10k-labels-idx1-ubyte": Size(5_148, 10_008),
    },
}

# Tried in order, HTTPS first; a file's URL is the base plus "<name>.gz".
MIRRORS: dict[str, list[str]] = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ],
    "fashion": [
        # The authors' S3 bucket: its REST endpoint speaks HTTPS, its website one only HTTP.
        "https://fashion-mnist.s3.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ],
}

# Folders that system packages install the files into (same names, `.gz`).
SYSTEM_DIRS: dict[str, list[Path]] = {
    "mnist": [],
    "fashion": [Path("/usr/share/datasets/fashion-mnist")],
}

# What to tell a user when no source had the data.
HOW_TO_GET: dict[str, str] = {
    "mnist": "connect to the internet once, or set COURSE_LIB_DATA (or pass data_dir=) to a "
    "folder with the four MNIST .gz files",
    "fashion": "install Debian's package (`sudo apt-get install dataset-fashion-mnist`), "
    "connect to the internet once, or set COURSE_LIB_DATA (or pass data_dir=) to a folder "
    "with the four Fashion-MNIST .gz files",
}
