"""Datasets for the course: MNIST and Fashion-MNIST as NumPy arrays."""

from .mnist import DataUnavailableError, cache_dir, load_arrays, load_mnist

__all__ = ["DataUnavailableError", "cache_dir", "load_arrays", "load_mnist"]
