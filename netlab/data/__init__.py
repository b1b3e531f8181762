"""Data: the IDX reader, data sources (a registry), download with checksums, preparation.

Importing the package registers every source (sources.py: the IDX datasets and the shipped
sample; files.py: the user's .npz and CSV files) without importing NumPy.
"""

from . import files, sources  # noqa: F401  (register the entries)
