"""Datasets for the course: MNIST and Fashion-MNIST as NumPy arrays."""

from .mnist import DataUnavailableError, LoadedData, cache_dir, load_mnist

__all__ = ["DataUnavailableError", "LoadedData", "cache_dir", "load_mnist"]
