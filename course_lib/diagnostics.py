"""Looking inside a network: gradient norms per layer and hidden activations.

What ``train()`` records at each evaluation, measured for any network and batch without
training it. They work on a copy of the network, so it is left exactly as it was (batch
normalisation's running averages included).
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

    With batch normalisation, x is normalised by its own statistics by default, as in
    training: these are the activations the gradients come from (at initialisation the
    running averages, 0 and 1, would show the network as if it had no batch
    normalisation); ``train_flg=False`` shows what evaluation uses.
    """
    network = copy.deepcopy(network)  # training mode moves the running averages
    x = np.asarray(x, dtype=network.dtype)
    outputs = []
    for name, layer in network.layers.items():
        x = layer.forward(x, train_flg) if name.startswith("BatchNorm") else layer.forward(x)
        if name.startswith("Activation_function"):
            outputs.append(np.array(x, dtype=np.float64))
    return outputs
