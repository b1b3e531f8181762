"""Options shared by several commands; choices and help come from the registries, and the help
of a config flag from the config schema (netlab/schema.py)."""

from __future__ import annotations

import contextvars
from typing import Any

import typer

from netlab.data.sources import DATA_SOURCES
from netlab.errors import ConfigError
from netlab.nn.activations import ACTIVATIONS
from netlab.nn.optimizers import OPTIMIZERS
from netlab.schema import FIELDS

Device = typer.Option("cpu", "--device", "-d", help="cpu, cuda, cuda:N or auto (cuda when usable).")
Json = typer.Option(False, "--json", help="Print the result as JSON instead of tables.")
DataDir = typer.Option(
    None,
    "--data-dir",
    help="Directory with the IDX files of fashion-mnist or mnist. \\[default: $NETLAB_DATA for "
    "fashion-mnist, else ~/.cache/netlab/<name>, then /usr/share/datasets/fashion-mnist]",
)

# Sweeps (experiment, reproduce): how the runs are executed and reported.
Workers = typer.Option(1, "--workers", "-w", min=1, max=256, help="Local worker processes.")
Scheduler = typer.Option(
    None,
    "--scheduler",
    help="Dask scheduler address (tcp://host:8786) instead of local workers. "
    "\\[default: none: local workers]",
)
StackSize = typer.Option(
    16,
    "--stack-size",
    min=1,
    max=1024,
    help="Most runs trained together as one stack (runs of one seed that differ only in what a "
    "model may hold for itself, docs/stacks.md); 1 trains every run alone.",
)
BlasThreads = typer.Option(
    1,
    "--blas-threads",
    min=1,
    max=256,
    help="BLAS threads per run; the same value gives the same numbers.",
)
RunsQuiet = typer.Option(False, "--quiet", "-q", help="No per-run lines.")


def shown_default(value: Any) -> str:
    """ "[default: VALUE]" as Typer prints it (escaped: the help text is Rich markup)."""
    if isinstance(value, bool):
        value = "on" if value else "off"
    elif isinstance(value, float):
        value = f"{value:g}"
    elif isinstance(value, (tuple, list)):
        value = ",".join(map(str, value)) or "none"
    return f"\\[default: {value}]"


def field_help(key: str, usage: str = "") -> str:
    """The help of the train flag that sets config field `key` ("section.key"): the schema's help,
    how the flag spells the value, and the built-in default (a --config file's value replaces
    it; a default of None is explained by the schema's help)."""
    section, _, name = key.partition(".")
    field = FIELDS[section][name]
    text = " ".join(t for t in (field.help, usage) if t)
    return text if field.default is None else f"{text} {shown_default(field.default)}"


def flag_for(key: str) -> str:
    """The train flag that sets config field `key`: --<key with dashes>, except the data location
    (--data for data.source and data.path, --data-dir for data.dir)."""
    special = {"data.source": "--data", "data.path": "--data", "data.dir": "--data-dir"}
    return special.get(key) or "--" + key.rpartition(".")[2].replace("_", "-")


def activation_help(label: str = "Hidden-layer activation: ") -> str:
    return label + ACTIVATIONS.choices() + "."


def optimizer_help(label: str = "Optimizer: ") -> str:
    lrs = ", ".join(f"{n} {OPTIMIZERS.get(n).default_lr:g}" for n in OPTIMIZERS)
    return f"{label}{OPTIMIZERS.choices()} (default lr: {lrs})."


def data_help(default: str = "") -> str:
    files = [n for n, e in DATA_SOURCES.items() if e.takes == "file"]
    names = [n for n, e in DATA_SOURCES.items() if e.takes != "file"]
    suffixes = ", ".join(s for n in files for s in DATA_SOURCES.get(n).suffixes)
    text = f"Data: {', '.join(names)}, or a file ({suffixes})."
    return text + (f" {shown_default(default)}" if default else "")


def _listings() -> dict[str, str]:
    """The registry listings that help texts contain."""
    files = [e for _, e in DATA_SOURCES.items() if e.takes == "file"]
    return {
        "activations": ACTIVATIONS.choices(),
        "optimizers": OPTIMIZERS.choices(),
        "rates": ", ".join(f"{n} {OPTIMIZERS.get(n).default_lr:g}" for n in OPTIMIZERS),
        "sources": ", ".join(n for n, e in DATA_SOURCES.items() if e.takes != "file"),
        "suffixes": ", ".join(s for e in files for s in e.suffixes),
    }


_AT_IMPORT = _listings()


def refresh_registry_help(command: Any) -> None:
    """Help texts list the registries as they were when this module was imported; main() calls
    this on the built command tree, so an entry registered later (a plugin module) is listed too."""
    if "train" in getattr(command, "commands", {}):
        add_setting_flags(command.commands["train"])
    now = _listings()
    changed = {old: now[k] for k, old in _AT_IMPORT.items() if now[k] != old}
    if not changed:
        return
    for param in getattr(command, "params", []):
        text = getattr(param, "help", None)
        if text:
            for old, new in changed.items():
                text = text.replace(old, new)
            param.help = text
    for sub in getattr(command, "commands", {}).values():
        refresh_registry_help(sub)


def setting_keys() -> dict[str, str]:
    """Config field ("section.key") of every setting a registry entry declares -> its flag's
    parameter name (the key)."""
    from netlab.schema import declared_settings

    pairs = (("model", ACTIVATIONS), ("training", OPTIMIZERS))
    return {f"{s}.{k}": k for s, r in pairs for k in declared_settings(r) if k in FIELDS[s]}


_GIVEN: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "given", default=None
)


def given_setting(p: dict[str, Any], name: str) -> Any:
    """The value a command line gave setting `name`: train's own parameter, or a flag that
    add_setting_flags derived (None: not given)."""
    return p[name] if name in p else (_GIVEN.get() or {}).get(name)


def _typer_options(wanted: dict[str, str]) -> list[Any]:
    """Click parameters, built by Typer, for the config fields `wanted` (key -> parameter)."""
    import inspect

    params = []
    for key, name in wanted.items():
        field = FIELDS[key.split(".")[0]][name]
        flag = flag_for(key)
        kind = bool if field.check(True) is True else float if "float" in field.expected() else int
        decls = [f"{flag}/--no-{flag[2:]}"] if kind is bool else [flag]
        option = typer.Option(None, *decls, help=field_help(key))
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option,
                                        annotation=kind))  # fmt: skip

    def settings(**kwargs: Any) -> None: ...

    settings.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    one = typer.Typer(add_completion=False)
    one.command()(settings)
    return list(typer.main.get_command(one).params)


def add_setting_flags(train: Any) -> None:
    """Give the click command of `netlab train` a flag (--key, --key/--no-key for a bool) for
    every declared setting that has no parameter of train's own, help from the schema; their
    values reach overrides.overrides through given_setting."""
    have = {p.name for p in train.params}
    wanted = {key: name for key, name in setting_keys().items() if name not in have}
    train.params.extend(_typer_options(wanted))
    added = list(wanted.values())
    if not added or getattr(train.callback, "settings_added", False):
        return
    callback = train.callback

    def with_settings(**kwargs: Any) -> Any:
        token = _GIVEN.set({k: kwargs.pop(k, None) for k in added})
        try:
            return callback(**kwargs)
        finally:
            _GIVEN.reset(token)

    with_settings.settings_added = True
    train.callback = with_settings


def data_overrides(text: str | None, data_dir: str | None) -> dict[str, str | None]:
    """--data NAME|FILE and --data-dir DIR as config overrides (source, path, dir of [data])."""
    from netlab.data.sources import source_for_path

    if text is None:
        return {"data.dir": data_dir}
    if text in DATA_SOURCES:
        if DATA_SOURCES.get(text).takes == "file":
            raise ConfigError(f"--data {text} reads a file; pass the file itself: --data my{text}")
        return {"data.source": text, "data.dir": data_dir, "data.path": ""}
    source = source_for_path(text)
    if source is None:
        raise ConfigError(
            f"--data {text!r} is neither a data source ({DATA_SOURCES.choices()}) nor a file "
            "ending in " + ", ".join(s for _, e in DATA_SOURCES.items() for s in e.suffixes)
        )
    if data_dir is not None:
        raise ConfigError("--data-dir is for fashion-mnist and mnist; a data file needs none")
    return {"data.source": source, "data.path": text, "data.dir": ""}


def data_location(text: str | None, data_dir: str | None) -> tuple[str | None, str | None]:
    """(source or None, location or None) for commands that read data without a config."""
    if text is None:
        return None, data_dir
    over = data_overrides(text, data_dir)
    return over["data.source"], over.get("data.path") or over.get("data.dir")


def parse_ints(text: str | None, what: str) -> tuple[int, ...] | None:
    """'50,50' -> (50, 50); a usage error naming `what` for anything else."""
    if text is None:
        return None
    parts = [p.strip() for p in text.replace("x", ",").split(",")]
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise typer.BadParameter(
            f"expected comma-separated integers like 50,50; got {text!r}", param_hint=what
        ) from None
    if not values or any(v < 1 for v in values):
        raise typer.BadParameter(
            f"expected positive integers like 50,50; got {text!r}", param_hint=what
        )
    return values
