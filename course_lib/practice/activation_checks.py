"""check_sigmoid and check_relu: the student's activation layers, checked as a textbook layer.

Each builds the layer with no arguments, runs forward on a float64 batch and backward on
a float64 gradient, and says what is wrong: the shape, an input changed in place, a
known wrong formula, or a gradient check naming its worst element.
"""

import numpy as np

from course_lib.practice.feedback import call, run_check
from course_lib.practice.probes import backward, expect, forward, gradient_check


def _batch(seed):
    """A (4, 5) float64 batch away from 0 (ReLU's kink) and the gradient reaching it."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.2, 3.0, (4, 5)) * rng.choice([-1.0, 1.0], (4, 5))
    return x, rng.normal(size=(4, 5))


def _sigmoid_steps(layer_class):
    x, dout = _batch(0)
    layer = call(f"{layer_class.__name__}()", layer_class)
    y = 1 / (1 + np.exp(-x))
    expect("forward の出力", forward(layer, x), y)
    dx = backward(layer, dout)
    mistakes = [
        ("dx に dout が掛かっていません: dx = dout * (1 - y) * y", (1 - y) * y),
        ("(1 - y) が抜けています: sigmoid の微分は y (1 - y) です", dout * y),
        ("y が抜けています: sigmoid の微分は y (1 - y) です", dout * (1 - y)),
        ("出力 y ではなく入力 x を使っています: 微分は出力 y で y (1 - y)", dout * x * (1 - x)),
    ]
    gradient_check("dx", dx, lambda: np.sum(layer.forward(x) * dout), x, mistakes)


def check_sigmoid(Sigmoid):
    """Check a Sigmoid layer class (forward, backward) and say in Japanese what is wrong."""
    return run_check("Sigmoid", _sigmoid_steps, Sigmoid)


def _relu_steps(layer_class):
    x, dout = _batch(1)
    layer = call(f"{layer_class.__name__}()", layer_class)
    out = forward(layer, x)
    positive = x > 0
    forward_mistakes = [
        ("負の入力が 0 になっていません: 0 以下の所を 0 にします", x),
        ("正と負が逆です: 正の入力はそのまま、0 以下の所を 0 にします", np.where(positive, 0, x)),
        ("入力ではなく 0 と 1 を返しています: 正の所は x の値そのものです", positive * 1.0),
    ]
    expect("forward の出力", out, np.maximum(x, 0), forward_mistakes)
    dx = backward(layer, dout)
    mistakes = [
        ("0 以下の入力の所の勾配を 0 にしていません", dout),
        ("勾配を通す所と止める所が逆です: 入力が正の所で dout を通します", dout * ~positive),
        ("dout を使っていません: 正の所では dx = dout です", positive * 1.0),
        ("dx がすべて 0 です: forward で self.mask を覚え、backward で使います", 0 * dout),
    ]
    gradient_check("dx", dx, lambda: np.sum(layer.forward(x) * dout), x, mistakes)


def check_relu(Relu):
    """Check a Relu layer class (forward, backward) and say in Japanese what is wrong."""
    return run_check("Relu", _relu_steps, Relu)
