"""course_lib: the library behind the vanishing-gradient course notebooks."""

from course_lib.multi_layer_net import MultiLayerNet

__all__ = ["MultiLayerNet"]
__version__ = "0.2.0"
