"""Building blocks of the network: math functions, layers and gradient checks."""
