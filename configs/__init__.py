"""netlab's presets: this directory is installed as the package netlab.configs (pyproject.toml), so
its TOML files, the checkout's configs, ship inside the distribution; netlab/presets.py finds them.
"""
