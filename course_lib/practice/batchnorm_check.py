"""check_batchnorm: the student's BatchNormalization, in training and in evaluation mode.

The interface is course_lib's (and the textbook's): ``BatchNormalization(gamma, beta,
momentum=0.9, running_mean=None, running_var=None)``, ``forward(x, train_flg=True)``,
``backward(dout)`` leaving ``dgamma`` and ``dbeta``. Inputs are (N, D) rows. Any eps up
to about 1e-5 passes.
"""

import numpy as np

from course_lib.practice.feedback import Mistake, call, run_check
from course_lib.practice.probes import as_array, backward, expect, forward, gradient_check

N, D = 8, 5
MOMENTUM = 0.9
EPS = 1e-7
# Loose enough for any eps up to 1e-5 (every column's variance is at least 0.25).
RTOL, ATOL = 1e-4, 1e-6
AXES = {0: " axis=0 ", 1: " axis=1（1 つのデータの中）", None: "配列全体"}


class _Case:
    """A batch with column means and scales of their own, gamma, beta and running values."""

    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.x = rng.normal(rng.uniform(-3, 3, D), rng.uniform(0.5, 3, D), (N, D))
        self.gamma, self.beta = rng.uniform(0.5, 2, D), rng.normal(size=D)
        self.running_mean, self.running_var = rng.normal(size=D), rng.uniform(0.5, 2, D)
        self.dout = rng.normal(size=(N, D))
        self.mu, self.var = self.x.mean(axis=0), self.x.var(axis=0)

    def layer(self, cls, running=False):
        """A fresh layer of the student's class (with our running values if ``running``)."""
        if not running:
            return call(f"{cls.__name__}(gamma, beta)", cls, self.gamma, self.beta)
        averages = {
            "running_mean": self.running_mean.copy(),
            "running_var": self.running_var.copy(),
        }
        return call(
            f"{cls.__name__}(..., running_mean=..., running_var=...)",
            cls,
            self.gamma,
            self.beta,
            MOMENTUM,
            **averages,
        )

    def normalised(self, mean, var, gamma=True):
        xn = (self.x - mean) / np.sqrt(var + EPS)
        return self.gamma * xn + self.beta if gamma else xn


def _axis_mistakes(case):
    """(message, output) for the mean and the variance taken over the wrong axes."""
    mistakes = []
    for mean_axis in AXES:
        for var_axis in AXES:
            if mean_axis == var_axis == 0:
                continue
            mean = case.x.mean(axis=mean_axis, keepdims=mean_axis is not None)
            var = case.x.var(axis=var_axis, keepdims=var_axis is not None)
            where = "平均" if mean_axis != 0 else "分散"
            axis = AXES[mean_axis if mean_axis != 0 else var_axis]
            message = f"{where}を{axis}でとっています: ミニバッチの方向 axis=0 に、列ごとにとります"
            mistakes.append((message, case.normalised(mean, var)))
    return mistakes


def _training_forward(cls, case):
    try:
        out = forward(case.layer(cls), case.x, True, mode="（学習時）")
    except Mistake as mistake:
        if "could not be broadcast" not in str(mistake):
            raise
        # Statistics of shape (N,) meet x of shape (N, D): taken over the wrong axis.
        raise Mistake(f"{mistake}。平均と分散は axis=0 で、列ごとに（形 (D,)）とります") from None
    mistakes = _axis_mistakes(case) + [
        (
            "分散で割っています: 標準偏差 np.sqrt(var + eps) で割ります",
            case.gamma * (case.x - case.mu) / (case.var + EPS) + case.beta,
        ),
        (
            "gamma と beta を使っていません: out = gamma * xn + beta",
            case.normalised(case.mu, case.var, gamma=False),
        ),
        (
            "不偏分散（N - 1 で割る）を使っています: "
            "N で割る分散 np.mean(xc**2, axis=0) を使います",
            case.normalised(case.mu, case.x.var(axis=0, ddof=1)),
        ),
    ]
    expect(
        "学習時（train_flg=True）の出力",
        out,
        case.normalised(case.mu, case.var),
        mistakes,
        RTOL,
        ATOL,
    )
    default = forward(case.layer(cls, running=True), case.x)
    if not np.allclose(default, out, rtol=RTOL, atol=ATOL):
        raise Mistake(
            "train_flg の既定値は True（学習時）です: def forward(self, x, train_flg=True)"
        )
    constant = case.x.copy()
    constant[:, 0] = 3.0
    if not np.all(
        np.isfinite(call(f"{cls.__name__}.forward", case.layer(cls).forward, constant, True))
    ):
        raise Mistake(
            "分散が 0 の列で inf か nan になりました: "
            "np.sqrt(var + eps) のように小さな eps（例えば 1e-7）を足します"
        )


def _vector(layer, name, missing=None):
    """``layer.<name>`` as a float64 array of shape (D,); Mistake ``missing`` if it is None."""
    value = getattr(layer, name, None)
    if value is None:
        missing = (
            missing or f"self.{name} がありません（None のままです）: 学習時の forward で更新します"
        )
        raise Mistake(missing)
    return as_array(f"self.{name}", np.asarray(value, dtype=np.float64), (D,))


def _average_mistakes(name, old, batch, what):
    """(message, value) of the running average ``name`` updated in the classic wrong ways."""
    rule = f"{name} = momentum * {name} + (1 - momentum) * {what}"
    mistakes = [
        (f"学習時（train_flg=True）に {name} が更新されていません: {rule}", old),
        (f"momentum の掛け方が逆です: {rule}", (1 - MOMENTUM) * old + MOMENTUM * batch),
        (f"{name} を今のバッチの値で置き換えています: 移動平均 {rule} にします", batch),
    ]
    if what == "var":
        std = MOMENTUM * old + (1 - MOMENTUM) * np.sqrt(batch)
        mistakes.append((f"{name} に標準偏差を入れています: 分散で {rule}", std))
    return mistakes


def _training_averages(cls, case):
    layer = case.layer(cls, running=True)
    forward(layer, case.x, True, mode="（学習時）")
    for name, old, batch, what in (
        ("running_mean", case.running_mean, case.mu, "mu"),
        ("running_var", case.running_var, case.var, "var"),
    ):
        expected = MOMENTUM * old + (1 - MOMENTUM) * batch
        mistakes = _average_mistakes(name, old, batch, what)
        found = _vector(layer, name)
        expect(f"学習時の forward で更新した {name} の値", found, expected, mistakes, RTOL, ATOL)


def _evaluation_forward(cls, case):
    layer = case.layer(cls, running=True)
    out = forward(layer, case.x, False, mode="（評価時）")
    updated_mean = MOMENTUM * case.running_mean + (1 - MOMENTUM) * case.mu
    updated_var = MOMENTUM * case.running_var + (1 - MOMENTUM) * case.var
    mistakes = [
        (
            "評価時（train_flg=False）にミニバッチの平均と分散を使っています: "
            "running_mean と running_var を使います",
            case.normalised(case.mu, case.var),
        ),
        (
            "評価時に running_mean / running_var を更新してから使っています: 更新は学習時だけです",
            case.normalised(updated_mean, updated_var),
        ),
    ]
    expected = case.normalised(case.running_mean, case.running_var)
    expect("評価時（train_flg=False）の出力", out, expected, mistakes, RTOL, ATOL)
    for name, old in (("running_mean", case.running_mean), ("running_var", case.running_var)):
        if not np.allclose(_vector(layer, name), old, rtol=RTOL, atol=ATOL):
            raise Mistake(
                f"評価時（train_flg=False）に {name} が変わりました: "
                "更新は学習時（train_flg=True）だけです"
            )


def _training_formula(case, mean, var):
    """dx of the textbook's backward (batch statistics) for forward's ``mean`` and ``var``."""
    xc, std = case.x - mean, np.sqrt(var + EPS)
    dxn = case.gamma * case.dout
    dvar = 0.5 * -np.sum(dxn * xc / (std * std), axis=0) / std
    dxc = dxn / std + (2.0 / N) * xc * dvar
    return dxc - np.sum(dxc, axis=0) / N


def _gradients(cls, case, train_flg):
    layer = case.layer(cls, running=True)
    mode = "（学習時）" if train_flg else "（評価時）"
    forward(layer, case.x, train_flg, mode=mode)
    dx = backward(layer, case.dout, mode=mode)
    missing = "backward で self.dgamma と self.dbeta に gamma と beta の勾配を入れます"
    grads = {name: _vector(layer, name, missing) for name in ("dgamma", "dbeta")}

    def loss():
        return np.sum(layer.forward(case.x, train_flg) * case.dout)

    return dx, grads, loss


def _backward(cls, case):
    dx, grads, loss = _gradients(cls, case, True)
    forgot = case.gamma * case.dout / np.sqrt(case.var + EPS)
    forgot_message = (
        "平均と分散も x で決まることを忘れています: "
        "教科書の計算グラフどおり dvar と dmu の項を足します"
    )
    gradient_check("dx", dx, loss, case.x, [(forgot_message, forgot)])
    gradient_check("dgamma", grads["dgamma"], loss, case.gamma)
    gradient_check("dbeta", grads["dbeta"], loss, case.beta)
    dx, grads, loss = _gradients(cls, case, False)
    textbook = _training_formula(case, case.running_mean, case.running_var)
    message = (
        "評価時（train_flg=False）の backward に学習時の式を使っています: running_mean と "
        "running_var は定数なので dx = gamma * dout / np.sqrt(running_var + eps)"
    )
    gradient_check("評価時の dx", dx, loss, case.x, [(message, textbook)])


def _batchnorm_steps(cls):
    case = _Case()
    layer = case.layer(cls)
    if getattr(layer, "gamma", case.gamma) is not case.gamma:
        raise Mistake(
            "gamma をコピーしています: self.gamma = gamma のように、渡された配列をそのまま持ちます"
            "（ネットワークの更新が届くように）"
        )
    _training_forward(cls, case)
    _training_averages(cls, case)
    _evaluation_forward(cls, case)
    _backward(cls, case)


def check_batchnorm(BatchNormalization):
    """Check a BatchNormalization class in both modes and say in Japanese what is wrong."""
    return run_check("BatchNormalization", _batchnorm_steps, BatchNormalization)
