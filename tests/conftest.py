"""Shared test set-up: offline data, a headless matplotlib, and the bundled sample."""

import os

# Before anything imports pyplot or loads data: no display, no downloads. nbval's
# kernels inherit this environment, so the notebooks run offline too.
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("COURSE_LIB_MNIST_SOURCE", "sample")
# The products here are small (100-image batches): a second OpenBLAS thread gains
# little, and on a busy shared machine waiting for it makes runs several times slower.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def sample_data():
    """The bundled MNIST sample, normalised, with one-hot labels (as the seed loads it)."""
    from course_lib.data.mnist import load_mnist

    return load_mnist(normalize=True, one_hot_label=True, source="sample")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def preset_run(sample_data):
    """preset_run(name, seed): the preset trained on the sample, once per session."""
    from course_lib.experiments import PRESETS
    from course_lib.training import run

    cache = {}

    def get(name, seed):
        if (name, seed) not in cache:
            cache[name, seed] = run(PRESETS[name].config.replace(seed=seed), sample_data)
        return cache[name, seed]

    return get
