"""check_init: the student's Xavier and He standard deviations, and the classic mistakes.

The functions take ``(n_in, n_out)`` as course_lib's initialisers do, or ``(n_in)`` only;
each is called for several layer sizes and compared with sqrt(1/n_in) and sqrt(2/n_in).
"""

import inspect
import numbers

import numpy as np

from course_lib.practice.feedback import Mistake, call, run_check
from course_lib.practice.probes import close, name_the_mistake

# (n_in, n_out) of the course's layers, with n_in != n_out so that using n_out shows.
SIZES = ((784, 40), (40, 20), (20, 10), (100, 300))
N_IN, N_OUT = np.array(SIZES, dtype=np.float64).T


def _takes_one_argument(function):
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # no signature to read: try both ways
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) == 1


def _values(name, function):
    """The function's value for each of SIZES, as a float64 array; or Mistake."""
    values = []
    for n_in, n_out in SIZES:
        args = (n_in,) if _takes_one_argument(function) else (n_in, n_out)
        value = call(f"{name}{args}", function, *args)
        if isinstance(value, np.ndarray) and value.size == 1:
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise Mistake(f"{name} は数を 1 つ返します（{type(value).__name__} が返りました）")
        values.append(float(value))
    return np.array(values)


def _mistakes(factor, other):
    """(message, value for each of SIZES) of the classic mistakes for sqrt(factor / n_in)."""
    return [
        (
            f"分散 {factor}/n_in を返しています: 標準偏差はその平方根 np.sqrt({factor} / n_in)",
            factor / N_IN,
        ),
        (
            "n_out（次の層のノード数）を使っています: 前の層のノード数 n_in を使います",
            np.sqrt(factor / N_OUT),
        ),
        (
            "Glorot（Xavier の原論文）の式です: この講座と教科書では n_in だけを使います",
            np.sqrt(2 / (N_IN + N_OUT)),
        ),
        (f"逆数になっています: np.sqrt({factor} / n_in) です", np.sqrt(N_IN / factor)),
        other,
    ]


def _check_one(name, function, factor, other):
    values = _values(name, function)
    expected = np.sqrt(factor / N_IN)
    if close(values, expected):
        return
    name_the_mistake(
        values, [(f"{name}: {message}", wrong) for message, wrong in _mistakes(factor, other)]
    )
    first = np.argmin(np.isclose(values, expected, rtol=1e-6, atol=1e-9))
    n_in, n_out = SIZES[first]
    raise Mistake(
        f"{name}: n_in={n_in}, n_out={n_out} のとき {values[first]:.6g} です。"
        f"正しくは np.sqrt({factor} / n_in) = {expected[first]:.6g}"
    )


def _init_steps(xavier_std, he_std):
    he_is_xavier = (
        "√2 が抜けています: これは Xavier の値です。"
        "He は、ReLU が半分を 0 にする分を √2 倍で補います",
        np.sqrt(1 / N_IN),
    )
    xavier_is_he = ("√2 は要りません: それは He の値です", np.sqrt(2 / N_IN))
    _check_one("xavier_std", xavier_std, 1, xavier_is_he)
    _check_one("he_std", he_std, 2, he_is_xavier)


def check_init(xavier_std, he_std):
    """Check the Xavier and He standard deviations and say in Japanese what is wrong."""
    return run_check("Xavier と He の標準偏差", _init_steps, xavier_std, he_std)
