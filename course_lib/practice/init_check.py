"""check_init: the student's Xavier and He standard deviations, and the classic mistakes.

The functions take ``(n_in, n_out)`` as course_lib's initialisers do, or ``(n_in)`` only;
each is called for several layer sizes and compared with sqrt(1/n_in) and sqrt(2/n_in).
"""

import inspect
import numbers

import numpy as np

from course_lib.practice.feedback import Mistake, call, run_check

# (n_in, n_out) of the course's layers, with n_in != n_out so that using n_out shows.
SIZES = ((784, 40), (40, 20), (20, 10), (100, 300))


def _takes_one_argument(function):
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # no signature to read: try both ways
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) == 1


def _values(name, function):
    """{(n_in, n_out): the function's value as a float}, or Mistake."""
    values = {}
    for n_in, n_out in SIZES:
        args = (n_in,) if _takes_one_argument(function) else (n_in, n_out)
        value = call(f"{name}{args}", function, *args)
        if isinstance(value, np.ndarray) and value.size == 1:
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise Mistake(f"{name} は数を 1 つ返します（{type(value).__name__} が返りました）")
        values[n_in, n_out] = float(value)
    return values


def _mistakes(factor, other):
    """(message, formula) of the classic mistakes for std = sqrt(factor / n_in)."""
    return [
        (
            f"分散 {factor}/n_in を返しています: 標準偏差はその平方根 np.sqrt({factor} / n_in)",
            lambda i, o: factor / i,
        ),
        (
            "n_out（次の層のノード数）を使っています: 前の層のノード数 n_in を使います",
            lambda i, o: np.sqrt(factor / o),
        ),
        (
            "Glorot（Xavier の原論文）の式です: この講座と教科書では n_in だけを使います",
            lambda i, o: np.sqrt(2 / (i + o)),
        ),
        (f"逆数になっています: np.sqrt({factor} / n_in) です", lambda i, o: np.sqrt(i / factor)),
        other,
    ]


def _check_one(name, function, factor, other):
    values = _values(name, function)
    expected = {size: np.sqrt(factor / size[0]) for size in SIZES}
    wrong = [s for s in SIZES if not np.isclose(values[s], expected[s], rtol=1e-6)]
    if not wrong:
        return
    for message, formula in _mistakes(factor, other):
        if all(np.isclose(values[s], formula(*s), rtol=1e-6) for s in SIZES):
            raise Mistake(f"{name}: {message}")
    n_in, n_out = wrong[0]
    value = values[n_in, n_out]
    raise Mistake(
        f"{name}: n_in={n_in}, n_out={n_out} のとき {value:.6g} です。"
        f"正しくは np.sqrt({factor} / n_in) = {expected[n_in, n_out]:.6g}"
    )


def _init_steps(xavier_std, he_std):
    he_is_xavier = (
        "√2 が抜けています: これは Xavier の値です。"
        "He は、ReLU が半分を 0 にする分を √2 倍で補います",
        lambda i, o: np.sqrt(1 / i),
    )
    xavier_is_he = ("√2 は要りません: それは He の値です", lambda i, o: np.sqrt(2 / i))
    _check_one("xavier_std", xavier_std, 1, xavier_is_he)
    _check_one("he_std", he_std, 2, he_is_xavier)


def check_init(xavier_std, he_std):
    """Check the Xavier and He standard deviations and say in Japanese what is wrong."""
    return run_check("Xavier と He の標準偏差", _init_steps, xavier_std, he_std)
