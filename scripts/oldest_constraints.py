"""Print pip constraints that pin every runtime dependency to its lowest allowed version.

CI installs the package with them into a second environment ("oldest supported") and runs
the unit tests there, so the lower bounds in pyproject.toml are tested, not guessed.
ipywidgets is pinned to 7.7.1, the version Google Colab ships.

Usage: python scripts/oldest_constraints.py [extra ...] > oldest.txt
"""

import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = None

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def requirements():
    """The runtime requirement strings of pyproject.toml."""
    text = PYPROJECT.read_text(encoding="utf-8")
    if tomllib is not None:
        return tomllib.loads(text)["project"]["dependencies"]
    block = re.search(r"^dependencies = \[(.*?)^\]", text, flags=re.M | re.S).group(1)
    return re.findall(r'^\s*"([^"]+)"', block, flags=re.M)


def lowest(requirement):
    """'numpy>=1.24' -> 'numpy==1.24'; None when there is no lower bound."""
    name = re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0)
    bound = re.search(r">=\s*([0-9][^,;\s]*)", requirement)
    return f"{name}=={bound.group(1)}" if bound else None


def main():
    for requirement in requirements():
        pin = lowest(requirement)
        if pin:
            print(pin)


if __name__ == "__main__":
    sys.exit(main())
