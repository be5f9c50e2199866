"""Claims of the gradient-flow lab (notebook 04), measured at initialisation.

One gradient of a fresh 5 x 100 network on a 100-image batch of the bundled MNIST
sample, for two seeds. The bounds are the ones the notebook's prose relies on.
"""

import numpy as np
import pytest

from course_lib.diagnostics import gradient_norms, gradient_ratio
from course_lib.experiments import DEEP_RUNS, PRESETS

SEEDS = (0, 1)


def _initial_norms(name, seed, data):
    (x_train, d_train), _ = data
    mask = np.random.default_rng(seed).choice(len(x_train), 100, replace=False)
    network = PRESETS[name].config.replace(seed=seed).build_network()
    assert network.hidden_size_list == [100] * 5
    return gradient_norms(network, x_train[mask], d_train[mask])


@pytest.mark.parametrize("seed", SEEDS)
def test_sigmoid_001_gradient_vanishes_toward_the_input(sample_data, seed):
    norms = _initial_norms("deep_sigmoid_0.01", seed, sample_data)
    ratio = gradient_ratio(norms)
    assert ratio < 1e-6, f"|dW1|/|dW6| = {ratio:.3g}, norms {norms}"
    # ... and it shrinks at every step toward the input, not only overall
    values = [norms[k] for k in sorted(norms, key=lambda k: int(k[1:]))]
    assert all(a < b for a, b in zip(values, values[1:], strict=False)), norms


@pytest.mark.parametrize("seed", SEEDS)
def test_relu_he_gradient_reaches_the_input(sample_data, seed):
    norms = _initial_norms("deep_relu_he", seed, sample_data)
    ratio = gradient_ratio(norms)
    assert 0.1 < ratio < 10, f"|dW1|/|dW6| = {ratio:.3g}, norms {norms}"


@pytest.mark.parametrize("seed", SEEDS)
def test_relu_001_every_layer_gradient_is_tiny(sample_data, seed):
    norms = _initial_norms("deep_relu_0.01", seed, sample_data)
    assert max(norms.values()) < 1e-4, norms


@pytest.mark.parametrize("seed", SEEDS)
def test_xavier_shrinks_the_vanishing_for_sigmoid(sample_data, seed):
    ratio_001 = gradient_ratio(_initial_norms("deep_sigmoid_0.01", seed, sample_data))
    ratio_xavier = gradient_ratio(_initial_norms("deep_sigmoid_xavier", seed, sample_data))
    assert ratio_xavier >= 100 * ratio_001, (
        f"sigmoid/Xavier ratio {ratio_xavier:.3g}, sigmoid/0.01 ratio {ratio_001:.3g}"
    )


def test_deep_presets_are_the_seven_runs():
    configs = [PRESETS[n].config for n in DEEP_RUNS]
    settings = {(c.activation, str(c.weight_init_std)) for c in configs}
    assert settings == {
        ("sigmoid", "0.01"),
        ("sigmoid", "Xavier"),
        ("sigmoid", "He"),
        ("relu", "0.01"),
        ("relu", "Xavier"),
        ("relu", "He"),
        ("tanh", "Xavier"),
    }
    for name in DEEP_RUNS:
        preset = PRESETS[name]
        assert preset.config.hidden_size_list == (100,) * 5
        assert preset.check.text and preset.observation and preset.check is not None
