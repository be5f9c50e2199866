"""Update rules with the textbook's interface: ``optimizer.update(params, grads)``.

Both are dicts keyed alike ('W1', 'b1', ...); ``params`` changes in place, because the
network's layers share its arrays.
"""

import numpy as np

from course_lib.validation import positive_number


class SGD:
    """Stochastic gradient descent: W <- W - lr * dW."""

    name = "sgd"  # what a run's RunConfig records; a subclass of SGD trains as "sgd" too

    def __init__(self, lr=0.01):
        # A Python float keeps float32 weights float32 (a NumPy float64 would not).
        self.lr = positive_number("learning_rate", lr)

    def update(self, params, grads):
        for key in params:
            params[key] -= self.lr * grads[key]


class Momentum:
    """SGD with momentum: v <- momentum * v - lr * dW, then W <- W + v."""

    name = "momentum"

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr = positive_number("learning_rate", lr)
        self.momentum = positive_number("momentum", momentum, allow_zero=True)
        self.v = None

    def update(self, params, grads):
        if self.v is None:
            self.v = {key: np.zeros_like(value) for key, value in params.items()}
        for key in params:
            self.v[key] = self.momentum * self.v[key] - self.lr * grads[key]
            params[key] += self.v[key]


class AdaGrad:
    """Per-parameter step sizes that shrink with the sum of squared gradients seen."""

    name = "adagrad"

    def __init__(self, lr=0.01):
        self.lr = positive_number("learning_rate", lr)
        self.h = None

    def update(self, params, grads):
        if self.h is None:
            self.h = {key: np.zeros_like(value) for key, value in params.items()}
        for key in params:
            self.h[key] += grads[key] * grads[key]
            # 1e-7 keeps the first steps finite where a gradient has been exactly 0.
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


class Adam:
    """Adam (Kingma and Ba, 2015): momentum and AdaGrad-like scaling, bias-corrected."""

    name = "adam"

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr = positive_number("learning_rate", lr)
        self.beta1 = positive_number("beta1", beta1, allow_zero=True)
        self.beta2 = positive_number("beta2", beta2, allow_zero=True)
        self.iter = 0
        self.m = None
        self.v = None

    def update(self, params, grads):
        if self.m is None:
            self.m = {key: np.zeros_like(value) for key, value in params.items()}
            self.v = {key: np.zeros_like(value) for key, value in params.items()}
        self.iter += 1
        # The bias correction of both moments, folded into one step size.
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        for key in params:
            self.m[key] += (1 - self.beta1) * (grads[key] - self.m[key])
            self.v[key] += (1 - self.beta2) * (grads[key] ** 2 - self.v[key])
            params[key] -= float(lr_t) * self.m[key] / (np.sqrt(self.v[key]) + 1e-7)


OPTIMIZERS = {cls.name: cls for cls in (SGD, Momentum, AdaGrad, Adam)}
