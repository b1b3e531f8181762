"""Snapshots of a directory's files, to prove that a command changed nothing."""

from __future__ import annotations

from pathlib import Path


def snapshot(directory: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under `directory` with its size and bytes, to prove nothing changed."""
    out = {}
    for p in sorted(Path(directory).rglob("*")):
        if p.is_file():
            out[str(p.relative_to(directory))] = (p.stat().st_size, p.read_bytes())
    return out
