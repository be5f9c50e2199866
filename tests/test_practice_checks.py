"""実装演習: each check passes the right layer and names each classic mistake by its message.

The table below is the contract: a wrong class or function as a student writes it, and a
fragment of the message the check must answer with. A stub still raising
NotImplementedError is one line (its hint), not a traceback.
"""

import numpy as np
import pytest

from course_lib.common import layers
from course_lib.practice import (
    NotYetImplemented,
    check_batchnorm,
    check_init,
    check_relu,
    check_sigmoid,
)

# ---------------------------------------------------------------- activation layers


class Sigmoid:
    def __init__(self):
        self.out = None

    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out


def _sigmoid_with(backward):
    return type("Sigmoid", (Sigmoid,), {"backward": backward})


class Relu:
    """The textbook's Relu, but writing into copies."""

    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dx = dout.copy()
        dx[self.mask] = 0
        return dx


def _relu_with(**methods):
    return type("Relu", (Relu,), methods)


def _textbook_relu_forward(self, x):
    self.mask = x <= 0
    x[self.mask] = 0  # writes into the caller's x
    return x


def _textbook_relu_backward(self, dout):
    dout[self.mask] = 0  # the textbook's own Relu.backward
    return dout


def _tanh_forward(self, x):
    self.out = np.tanh(x)
    return self.out


SIGMOID_MISTAKES = {
    "another forward": (
        type("Sigmoid", (Sigmoid,), {"forward": _tanh_forward}),
        "forward の出力が違います。最も違うのは [",
    ),
    "no dout": (_sigmoid_with(lambda self, dout: (1 - self.out) * self.out), "dout が掛かって"),
    "no (1 - y)": (_sigmoid_with(lambda self, dout: dout * self.out), "(1 - y) が抜けて"),
    "no y": (_sigmoid_with(lambda self, dout: dout * (1 - self.out)), "y が抜けて"),
    "a factor off": (
        _sigmoid_with(lambda self, dout: 2 * dout * (1 - self.out) * self.out),
        "勾配チェック（float64）で dx が合いません。最も違うのは dx[",
    ),
    "no return": (_sigmoid_with(lambda self, dout: None), "return を忘れて"),
    "wrong shape": (
        _sigmoid_with(lambda self, dout: np.sum(dout * (1 - self.out) * self.out, axis=0)),
        "の形が (5,) です: (4, 5) になるはずです",
    ),
    "dout changed": (
        _sigmoid_with(lambda self, dout: np.multiply(dout, (1 - self.out) * self.out, out=dout)),
        "Sigmoid.backward が dout を書き換えています",
    ),
}

RELU_MISTAKES = {
    "x changed in place": (_relu_with(forward=_textbook_relu_forward), "入力 x を書き換えて"),
    "dout changed in place": (_relu_with(backward=_textbook_relu_backward), "dout を書き換えて"),
    "nothing zeroed": (_relu_with(forward=lambda self, x: x.copy()), "負の入力が 0 になって"),
    "sign flipped": (
        _relu_with(forward=lambda self, x: np.where(x > 0, 0.0, x)),
        "正と負が逆です",
    ),
    "gradient inverted": (
        _relu_with(backward=lambda self, dout: dout * self.mask),
        "勾配を通す所と止める所が逆",
    ),
    "dout ignored": (
        _relu_with(backward=lambda self, dout: (~self.mask) * 1.0),
        "dout を使っていません",
    ),
    "gradient passed everywhere": (
        _relu_with(backward=lambda self, dout: dout.copy()),
        "勾配を 0 にしていません",
    ),
    "mask not kept": (
        _relu_with(forward=lambda self, x: np.maximum(x, 0)),
        "dx がすべて 0 です: forward で self.mask を覚え",
    ),
    "an error in backward": (
        _relu_with(backward=lambda self, dout: dout[self.mask.T]),
        "Relu.backward がエラーになりました: IndexError",
    ),
}


def test_the_library_layers_and_the_textbook_way_pass():
    assert check_sigmoid(layers.Sigmoid).ok
    assert check_sigmoid(Sigmoid).ok
    assert check_relu(layers.Relu).ok
    verdict = check_relu(Relu)
    assert verdict.ok and repr(verdict) == "✔ Relu: 正しく実装されています"


@pytest.mark.parametrize("mistake", sorted(SIGMOID_MISTAKES))
def test_check_sigmoid_names_each_mistake(mistake):
    wrong, fragment = SIGMOID_MISTAKES[mistake]
    verdict = check_sigmoid(wrong)
    assert not verdict.ok
    assert fragment in verdict.message, verdict.message
    assert verdict.message.startswith("✗ Sigmoid: ") and verdict.message.count("\n") <= 1


@pytest.mark.parametrize("mistake", sorted(RELU_MISTAKES))
def test_check_relu_names_each_mistake(mistake):
    wrong, fragment = RELU_MISTAKES[mistake]
    verdict = check_relu(wrong)
    assert not verdict.ok
    assert fragment in verdict.message, verdict.message


def test_the_gradient_check_names_the_worst_element_and_its_relative_error():
    def backward(self, dout):
        dx = dout * (1.0 - self.out) * self.out
        dx[2, 3] += 0.5
        return dx

    message = check_sigmoid(_sigmoid_with(backward)).message
    assert "最も違うのは dx[2, 3]" in message
    assert "相対誤差" in message and "1e-06 未満で合格" in message


def test_an_error_in_the_students_code_names_the_line():
    def backward(self, dout):
        return dout * self.missing

    message = check_sigmoid(_sigmoid_with(backward)).message
    assert "AttributeError" in message and "return dout * self.missing" in message


def test_a_stub_is_one_line_with_its_hint():
    def backward(self, dout):
        raise NotImplementedError("ヒント: 微分は y(1 - y)")

    with pytest.raises(NotYetImplemented) as caught:
        check_sigmoid(_sigmoid_with(backward))
    lines = caught.value._render_traceback_()
    assert len(lines) == 1
    assert "Sigmoid.backward はまだ実装されていません。ヒント: 微分は y(1 - y)" in lines[0]


# ---------------------------------------------------------------- Xavier and He


def xavier(n_in, n_out):
    return np.sqrt(1 / n_in)


def he(n_in, n_out):
    return np.sqrt(2 / n_in)


INIT_MISTAKES = {
    "He without √2": (xavier, lambda i, o: np.sqrt(1 / i), "he_std: √2 が抜けています"),
    "He as a variance": (xavier, lambda i, o: 2 / i, "he_std: 分散 2/n_in を返しています"),
    "He with n_out": (xavier, lambda i, o: np.sqrt(2 / o), "he_std: n_out（次の層のノード数）"),
    "He as Glorot": (xavier, lambda i, o: np.sqrt(2 / (i + o)), "he_std: Glorot"),
    "He inverted": (xavier, lambda i, o: np.sqrt(i / 2), "he_std: 逆数になっています"),
    "Xavier with √2": (lambda i, o: np.sqrt(2 / i), he, "xavier_std: √2 は要りません"),
    "Xavier as a variance": (lambda i, o: 1 / i, he, "xavier_std: 分散 1/n_in を返しています"),
    "Xavier with n_out": (lambda i, o: np.sqrt(1 / o), he, "xavier_std: n_out"),
    "something else": (lambda i, o: 0.01, he, "xavier_std: n_in=784, n_out=40 のとき 0.01 です"),
    "an array": (lambda i, o: np.full(o, np.sqrt(1 / i)), he, "数を 1 つ返します（ndarray"),
    "nothing returned": (lambda i, o: None, he, "数を 1 つ返します（NoneType"),
}


def test_check_init_passes_both_signatures():
    assert check_init(xavier, he).ok
    assert check_init(lambda n: np.sqrt(1 / n), lambda n: np.sqrt(2 / n)).ok


@pytest.mark.parametrize("mistake", sorted(INIT_MISTAKES))
def test_check_init_names_each_mistake(mistake):
    xavier_std, he_std, fragment = INIT_MISTAKES[mistake]
    verdict = check_init(xavier_std, he_std)
    assert not verdict.ok
    assert fragment in verdict.message, verdict.message


# ---------------------------------------------------------------- batch normalisation


class BatchNorm:
    """A right BatchNormalization written as a student would (the textbook's, both modes)."""

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        self.gamma, self.beta, self.momentum = gamma, beta, momentum
        self.running_mean, self.running_var = running_mean, running_var
        self.dgamma = self.dbeta = None

    def statistics(self, x):
        return x.mean(axis=0), x.var(axis=0)

    def update(self, mu, var):
        m = self.momentum
        self.running_mean = m * self.running_mean + (1 - m) * mu
        self.running_var = m * self.running_var + (1 - m) * var

    def forward(self, x, train_flg=True):
        if self.running_mean is None:
            self.running_mean = np.zeros_like(self.gamma)
            self.running_var = np.zeros_like(self.gamma)
        self.train_flg = train_flg
        if train_flg:
            mu, var = self.statistics(x)
            self.update(mu, var)
        else:
            mu, var = self.running_mean, self.running_var
        self.n, self.xc, self.std = x.shape[0], x - mu, np.sqrt(var + 1e-7)
        self.xn = self.xc / self.std
        return self.gamma * self.xn + self.beta

    def backward(self, dout):
        self.dbeta = dout.sum(axis=0)
        self.dgamma = np.sum(self.xn * dout, axis=0)
        dxn = self.gamma * dout
        dxc = dxn / self.std
        if not self.train_flg:
            return dxc
        dvar = 0.5 * -np.sum(dxn * self.xc / self.std**2, axis=0) / self.std
        dxc = dxc + (2.0 / self.n) * self.xc * dvar
        return dxc - np.sum(dxc, axis=0) / self.n


def _batchnorm_with(**methods):
    return type("BatchNormalization", (BatchNorm,), methods)


def _forward_with(out):
    """A forward whose output is ``out(self, x, train_flg)``, keeping what backward needs."""

    def forward(self, x, train_flg=True):
        BatchNorm.forward(self, x, train_flg)
        return out(self, x, train_flg)

    return forward


def _eval_without_running(self, x, train_flg=True):
    if not train_flg:  # evaluation with the batch's statistics
        self.running_mean, self.running_var = x.mean(axis=0), x.var(axis=0)
    return BatchNorm.forward(self, x, train_flg)


def _eval_updates(self, x, train_flg=True):
    if not train_flg:
        self.update(x.mean(axis=0), x.var(axis=0))
    return BatchNorm.forward(self, x, train_flg)


def _no_eps(self, x, train_flg=True):
    mu, var = self.statistics(x)
    BatchNorm.forward(self, x, train_flg)
    with np.errstate(divide="ignore", invalid="ignore"):
        return self.gamma * (x - mu) / np.sqrt(var) + self.beta


def _copies_gamma(self, gamma, beta, *args, **kwargs):
    BatchNorm.__init__(self, gamma.copy(), beta, *args, **kwargs)


def _momentum_swapped(self, mu, var):
    m = 1 - self.momentum
    self.running_mean = m * self.running_mean + (1 - m) * mu
    self.running_var = m * self.running_var + (1 - m) * var


def _train_backward_in_eval(self, dout):
    self.train_flg = True
    return BatchNorm.backward(self, dout)


def _no_statistics_terms(self, dout):
    BatchNorm.backward(self, dout)
    return self.gamma * dout / self.std


def _without(name):
    def backward(self, dout):
        dx = BatchNorm.backward(self, dout)
        setattr(self, name, None)
        return dx

    return backward


def _dgamma_without_xn(self, dout):
    dx = BatchNorm.backward(self, dout)
    self.dgamma = dout.sum(axis=0)
    return dx


def _changes_x(self, x, train_flg=True):
    out = BatchNorm.forward(self, x, train_flg)
    x -= x.mean(axis=0)
    return out


BATCHNORM_MISTAKES = {
    "mean over axis 1": (
        {"statistics": lambda self, x: (x.mean(axis=1, keepdims=True), x.var(axis=0))},
        "平均を axis=1（1 つのデータの中）でとっています",
    ),
    "mean over axis 1, shape (N,)": (
        {"statistics": lambda self, x: (x.mean(axis=1), x.var(axis=0))},
        "平均と分散は axis=0 で、列ごとに（形 (D,)）とります",
    ),
    "variance over axis 1": (
        {"statistics": lambda self, x: (x.mean(axis=0), x.var(axis=1, keepdims=True))},
        "分散を axis=1（1 つのデータの中）でとっています",
    ),
    "statistics of the whole array": (
        {"statistics": lambda self, x: (x.mean(), x.var())},
        "平均を配列全体でとっています",
    ),
    "unbiased variance": (
        {"statistics": lambda self, x: (x.mean(axis=0), x.var(axis=0, ddof=1))},
        "不偏分散",
    ),
    "divided by the variance": (
        {"forward": _forward_with(lambda s, x, t: s.gamma * s.xc / s.std**2 + s.beta)},
        "分散で割っています",
    ),
    "no gamma and beta": ({"forward": _forward_with(lambda s, x, t: s.xn)}, "gamma と beta を"),
    "no eps": ({"forward": _no_eps}, "分散が 0 の列で inf か nan"),
    "x changed in place": ({"forward": _changes_x}, "入力 x を書き換えています"),
    "running averages not updated": (
        {"update": lambda self, mu, var: None},
        "学習時（train_flg=True）に running_mean が更新されていません",
    ),
    "momentum swapped": ({"update": _momentum_swapped}, "momentum の掛け方が逆です"),
    "running variance off": (
        {"update": lambda self, mu, var: BatchNorm.update(self, mu, var + 0.5)},
        "学習時の forward で更新した running_var の値が違います。最も違うのは [",
    ),
    "running averages replaced": (
        {"update": lambda self, mu, var: self.__dict__.update(running_mean=mu, running_var=var)},
        "running_mean を今のバッチの値で置き換えています",
    ),
    "evaluation with the batch's statistics": (
        {"forward": _eval_without_running},
        "評価時（train_flg=False）にミニバッチの平均と分散を使っています",
    ),
    "running averages updated in evaluation": (
        {"forward": _eval_updates},
        "評価時に running_mean / running_var を更新してから使っています",
    ),
    "default mode is evaluation": (
        {"forward": lambda self, x, train_flg=False: BatchNorm.forward(self, x, train_flg)},
        "train_flg の既定値は True",
    ),
    "gamma copied": ({"__init__": _copies_gamma}, "gamma をコピーしています"),
    "backward without the statistics' terms": (
        {"backward": _no_statistics_terms},
        "平均と分散も x で決まることを忘れています",
    ),
    "evaluation backward with the training formula": (
        {"backward": _train_backward_in_eval},
        "評価時（train_flg=False）の backward に学習時の式",
    ),
    "dgamma missing": ({"backward": _without("dgamma")}, "self.dgamma と self.dbeta"),
    "dgamma without xn": (
        {"backward": _dgamma_without_xn},
        "勾配チェック（float64）で dgamma が合いません",
    ),
}


def test_check_batchnorm_passes_the_library_and_a_textbook_layer():
    assert check_batchnorm(layers.BatchNormalization).ok
    assert check_batchnorm(BatchNorm).ok


@pytest.mark.parametrize("mistake", sorted(BATCHNORM_MISTAKES))
def test_check_batchnorm_names_each_mistake(mistake):
    methods, fragment = BATCHNORM_MISTAKES[mistake]
    verdict = check_batchnorm(_batchnorm_with(**methods))
    assert not verdict.ok
    assert fragment in verdict.message, verdict.message
    assert verdict.message.startswith("✗ BatchNormalization: ")


def test_a_batchnorm_stub_names_the_mode_and_its_hint():
    def forward(self, x, train_flg=True):
        raise NotImplementedError("ヒント: 列ごと (axis=0)")

    with pytest.raises(
        NotYetImplemented, match=r"forward（学習時） はまだ実装されていません。ヒント: 列ごと"
    ):
        check_batchnorm(_batchnorm_with(forward=forward))
