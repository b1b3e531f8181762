"""The train flags as config overrides: which config field each flag sets, and the config a
command line resolves to (`netlab train`, `netlab config show`)."""

from __future__ import annotations

from typing import Any

from netlab.errors import ConfigError

from . import options


def overrides(p: dict[str, Any]) -> dict[str, Any]:
    """Config field ("section.key") -> value for every config flag in `p` (None: not given); the
    settings that registry entries declare come from their derived flags (options.py)."""
    return {
        "name": p["name"],
        "model.hidden": options.parse_ints(p["hidden"], "--hidden"),
        "model.activation": p["activation"],
        "model.init": p["init"],
        "training.epochs": p["epochs"],
        "training.batch_size": p["batch_size"],
        "training.optimizer": p["optimizer"],
        "training.lr": p["lr"],
        "training.schedule": p["schedule"],
        **{k: options.given_setting(p, name) for k, name in options.setting_keys().items()},
        "training.dropout": p["dropout"],
        "training.loss_norm": p["loss_norm"],
        "training.patience": p["patience"],
        "training.monitor": p["monitor"],
        "training.seed": p["seed"],
        "training.dtype": p["dtype"],
        **options.data_overrides(p["data"], p["data_dir"]),
        "data.val_fraction": p["val_fraction"],
        "data.normalization": p["normalization"],
    }


def resolve(p: dict[str, Any]) -> tuple[Any, Any]:
    """(the config this command line trains with, the resumed run's own config or None).

    With --resume the base is RUN_DIR/config.toml, and a flag may change only what a resume can
    change (more epochs); any other flag that changes the run is an error naming it."""
    from netlab.config import Config, config_diff, load_config, with_overrides
    from netlab.training.run import RESUMABLE

    given = {k: v for k, v in overrides(p).items() if v is not None}
    run = p["resume"]
    if run is None:
        from netlab.presets import config_path

        base = load_config(config_path(p["config"])) if p["config"] is not None else Config()
        return with_overrides(base, given), None
    if p["config"] is not None or p["out"] is not None or p["force"]:
        raise ConfigError(
            "--resume continues RUN_DIR with its own config.toml; drop --config, --out and --force"
        )
    if not (run / "config.toml").is_file():
        raise ConfigError(
            f"{run} is not a netlab run directory (no config.toml); pass the directory of a "
            "netlab train run"
        )
    base = load_config(run / "config.toml")
    cfg = with_overrides(base, given)
    changed = [d for d in config_diff(base, cfg) if d.split(":")[0] not in RESUMABLE]
    if changed:
        keys = {d.split(":")[0] for d in changed}
        flags = sorted({options.flag_for(k) for k in given if k in keys} or keys)
        raise ConfigError(
            f"{', '.join(flags)} cannot change when resuming {run} ({'; '.join(changed)}); a "
            f"resume can only add --epochs; for other settings start a new run from its config: "
            f"netlab train -c {run / 'config.toml'} {' '.join(flags)} ..."
        )
    return cfg, base
