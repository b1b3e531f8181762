"""CUDA only: fused kernels (kernels.py), the launches of one training step (step.py) and an epoch
captured as one CUDA graph (graph.py). Nothing here runs without CuPy and a GPU."""
