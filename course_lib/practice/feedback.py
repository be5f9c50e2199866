"""How a check talks to a student: a verdict of one or two Japanese lines, never a traceback.

A check runs the student's code through ``call``: a stub that still raises
NotImplementedError becomes ``NotYetImplemented`` (shown by IPython as its one line,
the hint), any other error a ``Mistake`` naming the student's line that raised it. What
a check finds wrong is a ``Mistake``; ``run_check`` turns it into a failed ``Verdict``.
"""

import traceback
from pathlib import Path

PASS = "✔"
FAIL = "✗"
GENERIC_HINT = "ヒント: 上の説明の式を、そのまま NumPy で書きます"
_LIBRARY_FOLDERS = (str(Path(__file__).resolve().parents[1]), "site-packages", "dist-packages")


class Verdict:
    """What a check found: ``ok`` and a ``message`` for the student (one or two lines).

    A notebook cell that ends with a check shows the message; the grader reads ``ok``.
    """

    def __init__(self, ok, message):
        self.ok = bool(ok)
        self.message = message

    def __repr__(self):
        return self.message


class NotYetImplemented(NotImplementedError):
    """A part the student has not written yet; a notebook shows it as one line: the hint.

    IPython shows an exception through its ``_render_traceback_`` when it has one.
    """

    def _render_traceback_(self):
        return [f"\x1b[0;31m{self}\x1b[0m"]


class Mistake(Exception):
    """What a check found wrong, in the words the student reads."""


def _student_line(exc):
    """'(line N of name: code)' for the last frame of the student's own code, or ''."""
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if not any(folder in frame.filename for folder in _LIBRARY_FOLDERS)
    ]
    if not frames:
        return ""
    frame = frames[-1]
    code = f": {frame.line.strip()}" if frame.line else ""
    return f"（{frame.name} の {frame.lineno} 行目{code}）"


def call(what, function, *args, **kwargs):
    """``function(*args, **kwargs)`` from the student's code, where ``what`` names it.

    NotImplementedError -> NotYetImplemented with its hint; any other error -> Mistake.
    """
    try:
        return function(*args, **kwargs)
    except NotYetImplemented:
        raise
    except NotImplementedError as exc:
        hint = str(exc).strip() or GENERIC_HINT
        raise NotYetImplemented(f"{what} はまだ実装されていません。{hint}") from None
    except Exception as exc:
        message = " ".join(f"{type(exc).__name__}: {exc}".split())
        raise Mistake(f"{what} がエラーになりました: {message}{_student_line(exc)}") from None


def run_check(title, steps, *args):
    """The Verdict of ``steps(*args)``: passed unless it raises Mistake.

    NotYetImplemented passes through, so a notebook stops there with its one line.
    """
    try:
        steps(*args)
    except Mistake as mistake:
        return Verdict(False, f"{FAIL} {title}: {mistake}")
    except NotYetImplemented:
        raise
    except Exception as exc:  # what the student's code returned broke the check itself
        message = " ".join(f"{type(exc).__name__}: {exc}".split())
        return Verdict(False, f"{FAIL} {title}: 確かめられませんでした（{message}）")
    return Verdict(True, f"{PASS} {title}: 正しく実装されています")
