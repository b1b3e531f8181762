"""The study's figures: one curves figure per experiment and protocol."""

from __future__ import annotations

from pathlib import Path

from ...errors import NetlabError
from ..files import Experiment, slug
from ..plan import read_summary
from .plan import Study


def draw_figures(study: Study, figures_dir: Path) -> dict[tuple[str, str], Path | str]:
    """One curves figure per experiment (its variants in file order), into figures_dir; a value
    that is a str instead of a Path says why there is no figure (plots extra missing)."""
    from ...files.history import read_history
    from ...integrations.plots import plot_curves

    figures: dict[tuple[str, str], Path | str] = {}
    try:
        figures_dir.mkdir(exist_ok=True)
    except OSError as exc:
        raise NetlabError(f"cannot create {figures_dir} ({exc.strerror}); check the path") from None
    for key, exp in study.experiments.items():
        groups: dict[str, list] = {}
        for spec in study.specs[key]:
            if read_summary(spec.run_dir) is not None:
                groups.setdefault(spec.variant, []).append(
                    read_history(spec.run_dir / "history.csv")
                )
        if not groups:
            figures[key] = "no finished run"
            continue
        path = figures_dir / f"{slug(exp.name)}.png"
        try:
            plot_curves(groups, path, title=_title(key, exp))
        except NetlabError as exc:
            figures[key] = str(exc)
            continue
        figures[key] = path
    return figures


def _title(key: tuple[str, str], exp: Experiment) -> str:
    protocol = "paper protocol (N(0,1) init)" if key[0] == "paper" else "corrected protocol"
    return f"{key[1]}: {protocol}, mean and min-max band over seeds {list(exp.seeds)}"
