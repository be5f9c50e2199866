"""The official files of each dataset: their SHA-256, where to download them, how to get them.

Each file has two digests: of its ``.gz`` download (the values torchvision and
tensorflow-datasets pin), which pooch checks before anything decompresses it, and of its
decompressed IDX bytes, which local files are checked on (Debian recompresses
Fashion-MNIST: other ``.gz`` digests, the same IDX bytes). Plain module-level dicts, so
tests can point them at small files, a local server or a temporary folder.
"""

from __future__ import annotations

import re
from pathlib import Path

# The four IDX files, in the order (train images, train labels, test images, test labels).
FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
NAMES = {"mnist": "MNIST", "fashion": "Fashion-MNIST"}


def read_sums(text: str) -> dict[str, str]:
    """``{file name: SHA-256}`` from lines as ``sha256sum`` prints them."""
    return {name: sha for sha, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", text, flags=re.M)}


SHA256 = {
    "mnist": read_sums("""
440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609  train-images-idx3-ubyte.gz
ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db  train-images-idx3-ubyte
3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c  train-labels-idx1-ubyte.gz
65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5  train-labels-idx1-ubyte
8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6  t10k-images-idx3-ubyte.gz
0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7  t10k-images-idx3-ubyte
f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6  t10k-labels-idx1-ubyte.gz
ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2  t10k-labels-idx1-ubyte
"""),
    "fashion": read_sums("""
3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84  train-images-idx3-ubyte.gz
c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888  train-images-idx3-ubyte
a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845  train-labels-idx1-ubyte.gz
bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9  train-labels-idx1-ubyte
346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073  t10k-images-idx3-ubyte.gz
5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b  t10k-images-idx3-ubyte
67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5  t10k-labels-idx1-ubyte.gz
0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34  t10k-labels-idx1-ubyte
"""),
}

# Tried in turn, HTTPS first. Plain HTTP stays as a last resort (for proxies that break
# TLS): the SHA-256, not the transport, is what makes a file trustworthy.
MIRRORS: dict[str, list[str]] = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ],
    "fashion": [
        "https://fashion-mnist.s3.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ],
}

# Folders that system packages install the files into.
SYSTEM_DIRS: dict[str, list[Path]] = {
    "mnist": [],
    "fashion": [Path("/usr/share/datasets/fashion-mnist")],
}
