"""Looking inside a network: gradient norms per layer and hidden activations.

What ``train()`` records, measured for any network and batch on a copy, so the network
(batch normalisation's running averages included) stays exactly as it was.
"""

import copy

import numpy as np


def weight_keys_in_order(norms):
    """The keys 'W1', 'W2', ... of ``norms``, input side first (so 'W10' follows 'W9')."""
    return sorted(norms, key=lambda key: int(key[1:]))


def gradient_norms(network, x, d):
    """{'W1': norm, ...}: each weight gradient's Frobenius norm for one batch, as in training."""
    grad = copy.deepcopy(network).gradient(x, d)
    keys = weight_keys_in_order([key for key in grad if key.startswith("W")])
    return {key: float(np.linalg.norm(np.asarray(grad[key], dtype=np.float64))) for key in keys}


def gradient_ratio(norms):
    """|dW1| / |dW_out|: how much smaller the input layer's gradient is (nan if dW_out is 0)."""
    if not norms:
        raise ValueError("gradient_ratio needs the norms of at least one layer, got none")
    keys = weight_keys_in_order(norms)
    first, last = norms[keys[0]], norms[keys[-1]]
    return first / last if last > 0 else float("nan")


def activation_snapshot(network, x, train_flg=True):
    """Outputs of each hidden layer's activation for input x, input side first, as float64.

    Batch normalisation uses x's own statistics by default, as training does (fresh running
    averages, 0 and 1, would hide it); ``train_flg=False`` shows what evaluation uses.
    """
    network = copy.deepcopy(network)  # training mode moves the running averages
    x = np.asarray(x, dtype=network.dtype)
    outputs = []
    for name, layer in network.layers.items():
        x = layer.forward(x, train_flg) if name.startswith("BatchNorm") else layer.forward(x)
        if name.startswith("Activation_function"):
            outputs.append(np.array(x, dtype=np.float64))
    return outputs
