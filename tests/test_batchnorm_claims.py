"""Batch normalisation's claims (notebook 06), on the bundled sample with two seeds each.

The bounds are the presets' own (measured on seeds 0-5 and set with margin): with
batch normalisation, the course's sigmoid / Xavier run at lr 0.01 learns tens of points
more in 1,000 iterations, the exercise's two failures learn (ReLU with no plateau), and
the 5 x 100 sigmoid / 0.01 network's gradient reaches the input layer undiminished.
"""

import numpy as np
import pytest

from course_lib.diagnostics import gradient_norms, gradient_ratio
from course_lib.experiments import BATCHNORM_RUNS, PRESETS

SEEDS = [0, 1]


@pytest.fixture
def runs(preset_run):
    return preset_run


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", BATCHNORM_RUNS)
def test_batchnorm_presets_agree_with_their_claims(runs, name, seed):
    h = runs(name, seed)
    assert PRESETS[name].check.test(h), h.summary()


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_batchnorm_is_tens_of_points_ahead_in_the_lesson(runs, seed):
    without = runs("sigmoid_xavier_lr0.01", seed).final_test_acc
    with_bn = runs("bn_sigmoid_xavier_lr0.01", seed).final_test_acc
    assert with_bn - without >= 0.35, (without, with_bn)


@pytest.mark.parametrize("seed", SEEDS)
def test_deep_sigmoid_gradient_reaches_the_input_with_batchnorm(sample_data, seed):
    (x_train, d_train), _ = sample_data
    mask = np.random.default_rng(seed).choice(len(x_train), 100, replace=False)
    ratios = {}
    for name in ("deep_sigmoid_0.01", "deep_bn_sigmoid_0.01"):
        network = PRESETS[name].config.replace(seed=seed).build_network()
        norms = gradient_norms(network, x_train[mask], d_train[mask])
        ratios[name] = gradient_ratio(norms)
        if network.use_batchnorm:
            assert max(norms.values()) <= 5 * min(norms.values()), norms
    assert ratios["deep_sigmoid_0.01"] < 1e-6
    assert 0.1 < ratios["deep_bn_sigmoid_0.01"] < 10, ratios
