"""Datasets for the course: MNIST and Fashion-MNIST as NumPy arrays."""

from ._loaded import LoadedData
from .mnist import DataUnavailableError, cache_dir, load_arrays, load_mnist

__all__ = ["DataUnavailableError", "LoadedData", "cache_dir", "load_arrays", "load_mnist"]
