"""Looking inside a network: gradient norms per layer and hidden activations.

``train()`` already records the gradient norms of every evaluation (``History.grad_norms``)
and of the first batch (``History.initial_grad_norms``). These helpers measure the same
things for any network and batch without training it, e.g. a fresh network at
initialisation, or a trained one on a fixed batch.
"""

import numpy as np


def _layer_number(key):
    return int(key[1:])


def weight_keys_in_order(norms):
    """The keys 'W1', 'W2', ... of ``norms``, input side first (so 'W10' follows 'W9')."""
    return sorted(norms, key=_layer_number)


def gradient_norms(network, x, d):
    """{'W1': norm, ...}: Frobenius norm of each weight gradient for one batch (x, d).

    One forward and backward pass, as in training (batch normalisation uses the batch's
    statistics); the network's weights and running averages are not changed.
    """
    grad = network.gradient(x, d, update_running_stats=False)
    return {
        key: float(np.linalg.norm(np.asarray(grad[key], dtype=np.float64)))
        for key in network.weight_keys
    }


def gradient_ratio(norms):
    """|dW1| / |dW_out|: how much smaller the input layer's gradient is than the output's.

    nan if the output layer's gradient is zero; ValueError if there are no norms.
    """
    if not norms:
        raise ValueError("gradient_ratio needs the norms of at least one layer, got none")
    keys = weight_keys_in_order(norms)
    first, last = norms[keys[0]], norms[keys[-1]]
    return first / last if last > 0 else float("nan")


def activation_snapshot(network, x):
    """Outputs of each hidden layer for input x, input side first, as float64 copies.

    Batch normalisation uses x's own statistics (see ``hidden_activations``).
    """
    return [np.array(a, dtype=np.float64) for a in network.hidden_activations(x)]
