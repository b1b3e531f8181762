"""A small real sample of Fashion-MNIST shipped with netlab (made by scripts/make_sample.py)."""
