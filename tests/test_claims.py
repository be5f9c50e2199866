"""The seed's observations, checked on the bundled sample with two seeds each.

The thresholds are the ones the course states; each test trains the preset the
notebooks use, so a change that breaks what students should see fails here.
"""

import numpy as np
import pytest

from course_lib.experiments import PRESETS, SEED_RUNS

SEEDS = [0, 1]


@pytest.fixture
def runs(preset_run):
    return preset_run


@pytest.mark.parametrize("seed", SEEDS)
def test_sigmoid_with_std_001_does_not_learn(runs, seed):
    h = runs("sigmoid_0.01", seed)
    assert h.final_test_acc < 0.2, h.summary()


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", ["relu_0.01", "relu_0.01_30_15"])
def test_relu_with_std_001_reaches_85_percent(runs, name, seed):
    h = runs(name, seed)
    assert h.final_test_acc >= 0.85, h.summary()


@pytest.mark.parametrize("seed", SEEDS)
def test_wider_relu_fits_the_training_batches(runs, seed):
    h = runs("relu_0.01_60_30", seed)
    assert np.mean(h.train_acc[-10:]) >= 0.95, h.summary()


@pytest.mark.parametrize("seed", SEEDS)
def test_xavier_rescues_sigmoid(runs, seed):
    h = runs("sigmoid_xavier", seed)
    assert h.final_test_acc >= 0.8, h.summary()


@pytest.mark.parametrize("seed", SEEDS)
def test_he_learns_early_and_well(runs, seed):
    h = runs("relu_he", seed)
    by_100 = [acc for it, acc in zip(h.eval_iters, h.test_acc, strict=True) if it <= 100]
    assert max(by_100) > 0.5, h.summary()
    assert h.final_test_acc >= 0.9, h.summary()


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", SEED_RUNS)
def test_presets_report_agreement_consistently(runs, name, seed):
    # The report's "agrees" column is the preset's own check; it must match the above.
    assert PRESETS[name].check.test(runs(name, seed))
