"""The `netlab` command: a thin Typer shell over the library (one module per command).

Command modules import the library inside their functions, so `netlab --help` loads Typer and
Rich but not NumPy.

`main()` turns every NetlabError and usage error into one `error: ...` line and an exit code:
1 for a failed operation, 2 for bad options, config or device, 3 for a diverged training, 130 when
Ctrl-C and 143 when SIGTERM stopped it (signals.py).
"""

from __future__ import annotations

import sys

import typer

from netlab._version import __version__
from netlab.errors import NetlabError

from . import config as config_cmd
from . import data as data_cmd
from . import doctor as doctor_cmd
from . import eval as eval_cmd
from . import experiment as experiment_cmd
from . import export as export_cmd
from . import gradcheck as gradcheck_cmd
from . import options, signals
from . import plot as plot_cmd
from . import reproduce as reproduce_cmd
from . import train as train_cmd
from .ui import error

HELP_NAMES = ["-h", "--help"]
app = typer.Typer(
    name="netlab",
    help="Explicit-backprop MLPs on NumPy or CuPy: train, evaluate and gradient-check.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": HELP_NAMES},
)
app.command("train")(train_cmd.train)
app.command("eval")(eval_cmd.evaluate)
app.command("gradcheck")(gradcheck_cmd.gradcheck)
app.command("experiment")(experiment_cmd.experiment)
app.command("plot")(plot_cmd.plot)
app.command("export")(export_cmd.export)
app.command("reproduce")(reproduce_cmd.reproduce)
app.add_typer(data_cmd.app, name="data")
app.command("doctor")(doctor_cmd.doctor)
app.add_typer(config_cmd.app, name="config")


def _version(value: bool) -> None:
    if value:
        print(f"netlab {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Explicit-backprop MLPs on NumPy or CuPy: train, evaluate and gradient-check."""


def _click():
    """click's exceptions module and its Context class, wherever this Typer keeps click."""
    try:  # typer >= 0.20 vendors click
        from typer._click import core, exceptions
    except ImportError:  # pragma: no cover - older typer with click installed
        from click import core, exceptions
    return exceptions, core.Context


def _flags_without_types(command, ctx_class) -> None:
    """Show on/off options as flags in --help (`--force`, not Typer's `--force <bool>`), in every
    command, the help options included."""
    help_option = command.get_help_option(ctx_class(command, help_option_names=HELP_NAMES))
    for param in [*command.params, help_option]:
        if getattr(param, "is_flag", False):
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        _flags_without_types(sub, ctx_class)


def _no_such_option(e) -> str:
    """Click's message for an unknown option, suggesting only options whose names (without the
    dashes, which every option shares) are close to the one given."""
    import difflib

    ctx = e.ctx
    known = [o for p in (ctx.command.params if ctx else []) for o in (*p.opts, *p.secondary_opts)]
    names = {o.lstrip("-"): o for o in known if o.startswith("--")}
    close = difflib.get_close_matches(e.option_name.lstrip("-"), names, n=2, cutoff=0.75)
    guess = f" (did you mean {' or '.join(names[c] for c in close)}?)" if close else ""
    return f"no such option {e.option_name}{guess}"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `netlab` command; returns (and exits with) the exit code."""
    exc, context = _click()
    command = typer.main.get_command(app)
    options.refresh_registry_help(command)
    _flags_without_types(command, context)
    args = sys.argv[1:] if argv is None else argv
    try:
        with signals.handling():  # SIGTERM stops a command like Ctrl-C (exit 143)
            rv = command.main(args=args, prog_name="netlab", standalone_mode=False)
        code = rv if isinstance(rv, int) else 0
        if code == 130:  # typer turns Ctrl-C (and SIGTERM) into exit code 130 without a word
            error(signals.stopped("finished files are kept, none is left half-written"))
            code = signals.exit_code()
    except NetlabError as e:
        error(str(e))
        code = e.exit_code
    except exc.UsageError as e:
        what = _no_such_option(e) if isinstance(e, exc.NoSuchOption) else e.format_message()
        name = e.ctx.command_path if e.ctx and e.ctx.parent else "netlab"
        error(f"{what.rstrip('.')}; see '{name} --help'")
        code = 2
    except exc.ClickException as e:
        error(e.format_message())
        code = e.exit_code
    except (typer.Abort, KeyboardInterrupt):
        error(signals.stopped("finished files are kept, none is left half-written"))
        code = signals.exit_code()
    except MemoryError:  # also CuPy's OutOfMemoryError
        error("out of memory; use smaller layers, a smaller batch or another device")
        code = 1
    except Exception as e:  # a CuPy or CUDA error no command turned into a NetlabError
        from netlab.cuda.fault import is_gpu_error, user_message

        if not is_gpu_error(e):
            raise
        error(user_message(e))
        code = 1
    except BrokenPipeError:  # output piped into a reader that stopped (e.g. `| head`)
        code = 0
    if argv is None:
        sys.exit(code)
    return code
