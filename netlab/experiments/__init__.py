"""Experiments: experiment files, run plans, executors (local, Dask), results; the study."""
