"""A student's layer run the way a check needs it: shapes, untouched inputs, gradients.

Every comparison names the worst element (its index) and says what was expected; a
result that equals a known wrong formula gets that mistake's own message instead.
"""

import numpy as np

from course_lib.common.gradient import numerical_gradient, rel_error
from course_lib.practice.feedback import Mistake, call

# The relative error every layer of course_lib passes in float64 (tests/test_gradients.py).
GRADIENT_TOLERANCE = 1e-6


def _index(position):
    return ", ".join(str(int(i)) for i in position)


def as_array(what, value, shape):
    """``value`` if it is a float array of ``shape``; else Mistake saying what came back."""
    if not isinstance(value, np.ndarray):
        raise Mistake(
            f"{what} が配列ではなく {type(value).__name__} を返しました"
            "（return を忘れていませんか？）"
        )
    if value.shape != tuple(shape):
        raise Mistake(f"{what} の形が {value.shape} です: {tuple(shape)} になるはずです")
    if value.dtype.kind != "f":
        raise Mistake(f"{what} が {value.dtype} の配列を返しました: 小数（float）の配列を返します")
    return value


def forward(layer, x, *args, mode=""):
    """``layer.forward(x, *args)``, checking its shape and that x is left as it was.

    mode: how the messages name the call beside the method, such as '（評価時）'.
    """
    what = f"{type(layer).__name__}.forward{mode}"
    before = x.copy()
    out = call(what, layer.forward, x, *args)
    if not np.array_equal(x, before):
        raise Mistake(
            f"{what} が入力 x を書き換えています: x はそのままにして、"
            "新しい配列（例えば out = x.copy()）に書きます"
        )
    return as_array(what, out, x.shape)


def backward(layer, dout, mode=""):
    """``layer.backward(dout)``, checking its shape and that dout is left as it was."""
    what = f"{type(layer).__name__}.backward{mode}"
    before = dout.copy()
    dx = call(what, layer.backward, dout)
    if not np.array_equal(dout, before):
        raise Mistake(
            f"{what} が dout を書き換えています: 前の層がまだ使うかもしれない配列です。"
            "dx = dout.copy() のように新しい配列に書きます"
        )
    return as_array(what, dx, dout.shape)


def close(a, b, rtol=1e-6, atol=1e-9):
    """True where every element of a is within the tolerances of b (same shapes)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


def name_the_mistake(result, mistakes, rtol=1e-6, atol=1e-9):
    """Raise Mistake with the message of the first (message, wrong value) that result equals."""
    for message, wrong in mistakes:
        if close(result, wrong, rtol, atol):
            raise Mistake(message)


def expect(what, result, expected, mistakes=(), rtol=1e-6, atol=1e-9):
    """Mistake unless ``result`` equals ``expected``: a known mistake's message, or the
    worst element with its expected value."""
    if close(result, expected, rtol, atol):
        return
    name_the_mistake(result, mistakes, rtol, atol)
    result, expected = np.asarray(result, np.float64), np.asarray(expected, np.float64)
    worst = np.unravel_index(np.argmax(np.abs(result - expected)), result.shape)
    raise Mistake(
        f"{what}が違います。最も違うのは [{_index(worst)}] の要素で {result[worst]:.6g}、"
        f"正しくは {expected[worst]:.6g} です"
    )


def gradient_check(name, analytic, loss, at, mistakes=()):
    """Mistake unless ``analytic`` matches the central-difference gradient of ``loss()``
    with respect to the array ``at`` (changed in place and restored), in float64."""
    numeric = numerical_gradient(lambda _: loss(), at)
    error = rel_error(analytic, numeric)
    if error < GRADIENT_TOLERANCE:
        return
    name_the_mistake(analytic, mistakes, rtol=1e-4, atol=1e-8)
    worst = np.unravel_index(np.argmax(np.abs(analytic - numeric)), numeric.shape)
    a, n = float(analytic[worst]), float(numeric[worst])
    element = rel_error(a, n)
    raise Mistake(
        f"勾配チェック（float64）で {name} が合いません。最も違うのは {name}[{_index(worst)}]: "
        f"backward は {a:.4g}、数値微分は {n:.4g}（相対誤差 {element:.1e}。"
        f"全体の相対誤差 {error:.1e}、{GRADIENT_TOLERANCE:g} 未満で合格）"
    )
