"""Checks of values a person chose, with messages that say what was wrong and what to do.

Each setting is checked once, where it enters (``RunConfig``, ``MultiLayerNet``,
``train()``), and so is the data given to ``train()``.
"""

import math
import numbers

import numpy as np

from course_lib.common.functions import label_indices


class SettingError(ValueError):
    """A setting's value cannot be used: ``name`` (``iters_num``) and ``problem`` (the rest
    of the sentence), kept apart so the CLI can say ``--iters`` and the dashboard ``iterations``.
    """

    def __init__(self, name, problem):
        super().__init__(f"{name} {problem}")
        self.name = name
        self.problem = problem

    def named(self, label):
        """The same message with the setting called ``label`` (a flag, a control)."""
        return f"{label} {self.problem}"


def whole_number(name, value, minimum=1):
    """``value`` as an int if it is a whole number >= minimum, else SettingError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        kind = "a positive whole number (>= 1)" if minimum == 1 else f"a whole number >= {minimum}"
        raise SettingError(name, f"must be {kind}, got {value!r}")
    return int(value)


def positive_number(name, value, allow_zero=False):
    """``value`` as a float if it is a finite number > 0 (>= 0 with allow_zero)."""
    kind = "a number >= 0" if allow_zero else "a positive number"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise SettingError(name, f"must be {kind}, got {value!r}")
    # float(np.float32(0.01)) is 0.009999999776...: its shortest text, '0.01', is what was meant.
    number = float(str(value)) if isinstance(value, np.floating) else float(value)
    if not math.isfinite(number):
        raise SettingError(name, f"must be {kind} and finite, got {value!r}")
    if number < 0 or (number == 0 and not allow_zero):
        raise SettingError(name, f"must be {kind}, got {value!r}")
    return number


def yes_no(name, value):
    """``value`` as a bool if it is True or False (NumPy's too), else SettingError."""
    if not isinstance(value, (bool, np.bool_)):
        raise SettingError(name, f"must be True or False, got {value!r}")
    return bool(value)


def choice(name, value, choices):
    """The entry of ``choices`` equal to ``value`` ignoring case, else SettingError."""
    if isinstance(value, str):
        for option in choices:
            if option.lower() == value.strip().lower():
                return option
    raise SettingError(name, f"must be one of {', '.join(map(repr, choices))}, got {value!r}")


def check_data(data, input_size, output_size, dtype):
    """(x_train, d_train, x_test, d_test): images flattened in ``dtype``, labels as indices.

    Data of the wrong shape, NaN or infinite pixels and labels outside the classes raise a
    ValueError that says which.
    """
    try:
        (x_train, d_train), (x_test, d_test) = data
    except (TypeError, ValueError):
        raise ValueError(
            "data must be ((x_train, d_train), (x_test, d_test)) as load_mnist() returns it"
        ) from None
    checked = []
    for name, x, d in (("training", x_train, d_train), ("test", x_test, d_test)):
        if len(x) != len(d) or len(x) == 0:
            raise ValueError(
                f"the {name} data has {len(x)} images and {len(d)} labels; "
                "they must be as many, and more than 0"
            )
        if np.size(x) != len(x) * input_size:
            raise ValueError(
                f"the {name} images have {np.size(x) // len(x)} values each, but the "
                f"network expects input_size={input_size}"
            )
        x = np.asarray(x, dtype=dtype).reshape(len(x), -1)
        bad = x.size - np.count_nonzero(np.isfinite(x))
        if bad:
            raise ValueError(
                f"the {name} images contain {bad:,} NaN or infinite values (of {x.size:,}); "
                "clean or reload the data before training"
            )
        checked += [x, label_indices(d, output_size, f"{name} labels")]
    return checked
