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

from .._version import __version__
from ..errors import NetlabError
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

app = typer.Typer(
    name="netlab",
    help="Explicit-backprop MLPs on NumPy or CuPy: train, evaluate and gradient-check.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
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


def _click_exceptions():
    try:  # typer >= 0.20 vendors click
        from typer._click import exceptions
    except ImportError:  # pragma: no cover - older typer with click installed
        from click import exceptions
    return exceptions


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `netlab` command; returns (and exits with) the exit code."""
    exc = _click_exceptions()
    command = typer.main.get_command(app)
    options.refresh_registry_help(command)
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
        hint = f"see 'netlab {e.ctx.info_name if e.ctx and e.ctx.parent else ''} --help'"
        error(f"{e.format_message().rstrip('.')}; {' '.join(hint.split())}")
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
    except BrokenPipeError:  # output piped into a reader that stopped (e.g. `| head`)
        code = 0
    if argv is None:
        sys.exit(code)
    return code
