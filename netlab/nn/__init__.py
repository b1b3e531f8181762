"""The math: backend (the only CuPy import), activations, layers, losses, optimizers, schedules."""
