"""Presets: the configs and experiment files that ship inside netlab, found by name from anywhere.

They are the checkout's configs/ directory itself, installed as the package netlab.configs (one
source of truth; relative `base = "../..."` references work the same in both places). A config
preset is named by its path under configs/ without .toml (`best`, `paper/baseline`), a folder's
baseline.toml also by the folder (`paper`); an experiment preset by its path under
configs/experiments/ (`paper/regularization`, `best-search`).
"""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError


def presets_dir() -> Path:
    """The configs/ directory: in site-packages when installed, the checkout's when editable."""
    from importlib.resources import files

    return Path(str(files("netlab.configs")))  # a directory on disk: netlab is not zip-safe


def experiments_dir() -> Path:
    return presets_dir() / "experiments"


def _named(root: Path, skip: Path | None = None) -> dict[str, Path]:
    out = {}
    for path in sorted(root.rglob("*.toml")):
        if skip is not None and skip in path.parents:
            continue
        name = path.relative_to(root).with_suffix("").as_posix()
        out[name.removesuffix("/baseline")] = path
    return out


def config_presets() -> dict[str, Path]:
    """Config presets by name: {"baseline": .../baseline.toml, "paper": .../paper/baseline.toml}."""
    return _named(presets_dir(), skip=experiments_dir())


def experiment_presets() -> dict[str, Path]:
    """Experiment presets by name: {"paper/regularization": ..., "best-search": ...}."""
    return _named(experiments_dir())


def _find(arg: str | Path, presets: dict[str, Path], what: str, base: Path | None) -> Path:
    """A file wins over a preset of the same name; a directory does not."""
    path = Path(base, arg) if base is not None else Path(arg)
    if path.is_file():
        return path
    name = Path(arg).as_posix().removesuffix(".toml")
    for key in (name, name.removesuffix("/baseline")):
        if key in presets:
            return presets[key]
    if path.exists():
        return path  # a directory: the loader says it is not a file
    raise ConfigError(
        f"{what} {path} not found, and no preset is named {name!r}; presets: "
        f"{', '.join(presets)}; pass an existing file or a preset name (netlab config list)"
    )


def config_path(arg: str | Path, base: Path | None = None) -> Path:
    """The config file `arg` names: a file (relative to `base` if given), else a preset."""
    return _find(arg, config_presets(), "config file", base)


def experiment_path(arg: str | Path) -> Path:
    """The experiment file `arg` names: a file, else an experiment preset."""
    return _find(arg, experiment_presets(), "experiment file", None)


def _summary(path: Path) -> str:
    """The first sentence of a preset file's opening comment (what it is), or ""."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    text = " ".join(lines)
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


def list_presets() -> list[dict[str, str]]:
    """Every preset: {"kind": "config" or "experiment", "name", "file" (its path under configs/),
    "summary" (the first sentence of its opening comment)}."""
    root = presets_dir()
    kinds = (("config", config_presets()), ("experiment", experiment_presets()))
    return [
        dict(kind=kind, name=name, file=path.relative_to(root).as_posix(), summary=_summary(path))
        for kind, presets in kinds
        for name, path in presets.items()
    ]
