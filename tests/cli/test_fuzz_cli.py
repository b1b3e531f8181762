"""The structure-aware fuzz run through the real command line (the families of hostile.py).

Each case's files are written into an empty directory and read by the command that reads them
(eval --json, export, train --resume, train -c, experiment, plot): in-process through
netlab.cli.main (the whole CLI: options, error mapping, exit codes; warnings recorded as they
would reach stderr) and, for a sample, through the installed `netlab` entry point. Counted, and
required to be zero: tracebacks (stderr with "Traceback", or a line other than one `error:` line
and `note:` lines), hangs (no answer within HANG_S seconds, a safety net), accepted invalid files
(exit 0 where the schema says refuse), refusals that wrote or changed a file, refusals with an
exit code other than 1 or 2 (2 for config and experiment files), and --json output that is not
strict JSON.

NETLAB_FUZZ_CLI=N runs N cases in-process (default 300, each family its share);
NETLAB_FUZZ_CLI_PROCESS=M runs M through the entry point (default 10, at least one per family);
NETLAB_FUZZ_CLI_SEED picks another draw. The counts are printed (pytest -s).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import hostile
import pytest
from netlab.cli import main
from snapshots import snapshot

N_CASES = int(os.environ.get("NETLAB_FUZZ_CLI", "300"))
N_PROCESS = int(os.environ.get("NETLAB_FUZZ_CLI_PROCESS", "10"))
SEED = int(os.environ.get("NETLAB_FUZZ_CLI_SEED", "16"))
HANG_S = 120
NETLAB = str(Path(sys.executable).with_name("netlab"))
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
QUIET_BY_DEFAULT = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)
CONFIG_COMMANDS = ("train", "experiment")


class Hang(BaseException):
    """The command did not answer within HANG_S seconds."""


@contextmanager
def deadline(seconds: float):
    def expire(signum, frame):
        raise Hang()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def write(case: hostile.Case, d: Path) -> None:
    d.mkdir(parents=True)
    for name, data in case.files.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(data)


def in_process(case: hostile.Case, d: Path, capsys) -> tuple[int | None, str, str]:
    cwd = os.getcwd()
    os.chdir(d)  # a default output directory lands in the case's directory
    try:
        with warnings.catch_warnings(record=True) as caught, deadline(HANG_S):
            warnings.simplefilter("always")
            try:
                code = main(hostile.argv(case, d))
            except Hang:
                code = None
    finally:
        os.chdir(cwd)
    out, err = capsys.readouterr()
    shown = [w for w in caught if not issubclass(w.category, QUIET_BY_DEFAULT)]
    return code, out, err + "".join(f"{w.category.__name__}: {w.message}\n" for w in shown)


def through_entry_point(case: hostile.Case, d: Path) -> tuple[int | None, str, str]:
    try:
        done = subprocess.run([NETLAB, *hostile.argv(case, d)], cwd=d, env=ENV, text=True,
                              capture_output=True, timeout=HANG_S)  # fmt: skip
    except subprocess.TimeoutExpired:
        return None, "", ""
    return done.returncode, done.stdout, done.stderr


def problems(case: hostile.Case, code: int | None, out: str, err: str, changed: bool) -> list[str]:
    """What is wrong with how the command answered the case ([] when nothing is)."""
    if code is None:
        return ["hang"]
    found = []
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    if "Traceback" in err or any(not line.startswith(("error: ", "note: ")) for line in lines):
        found.append("traceback")
    if (code == 0) != (not errors) or len(errors) > 1:
        found.append("not one error line")
    if case.invalid and code == 0:
        found.append("accepted invalid")
    if case.invalid and code != 0:
        wanted = (2,) if case.command in CONFIG_COMMANDS else (1, 2)
        if code not in wanted:
            found.append(f"exit {code}")
        if changed:
            found.append("wrote on refusal")
    if code == 0 and "--json" in hostile.argv(case, Path(".")):
        try:
            json.loads(out, parse_constant=lambda token: 1 / 0)
        except (ValueError, ZeroDivisionError):
            found.append("not strict JSON")
    return found


def run_cases(cases, root: Path, runner) -> dict:
    tally: dict = {"cases": Counter(), "invalid": Counter(), "refused": Counter(),
                   "accepted_valid": Counter(), "problems": Counter(), "found": [],
                   "refused_valid": []}  # fmt: skip
    for i, case in enumerate(cases):
        d = root / f"case{i}"
        write(case, d)
        before = snapshot(d)
        code, out, err = runner(case, d)
        found = problems(case, code, out, err, snapshot(d) != before)
        tally["cases"][case.family] += 1
        tally["invalid"][case.family] += case.invalid
        tally["refused"][case.family] += case.invalid and code not in (0, None)
        tally["accepted_valid"][case.family] += not case.invalid and code == 0
        if not case.invalid and code != 0:  # allowed (missing data, a diverged run), but shown
            tally["refused_valid"].append((case.family, case.what, err.strip()[-200:]))
        for p in found:
            tally["problems"][p] += 1
            tally["found"].append((case.family, case.what, p, err.strip()[-300:]))
    return tally


def report(title: str, tally: dict, seconds: float) -> str:
    rows = [f"{title}: {sum(tally['cases'].values())} cases in {seconds:.0f} s"]
    for family in hostile.FAMILIES:
        c = tally["cases"][family]
        rows.append(f"  {family:16} {c:5} cases, {tally['invalid'][family]:5} invalid (refused "
                    f"{tally['refused'][family]}), {tally['accepted_valid'][family]} valid "
                    "accepted")  # fmt: skip
    kinds = ("traceback", "hang", "accepted invalid", "wrote on refusal", "not strict JSON")
    rows.append("  " + ", ".join(f"{k}: {tally['problems'][k]}" for k in kinds))
    rows.append(f"  valid but refused (allowed: data missing, divergence): "
                f"{len(tally['refused_valid'])}")  # fmt: skip
    rows += [f"    {f}: {what[:50]}: {err[-120:]}" for f, what, err in tally["refused_valid"]
             if os.environ.get("NETLAB_FUZZ_CLI_VERBOSE")]  # fmt: skip
    other = {k: v for k, v in tally["problems"].items() if k not in kinds}
    if other:
        rows.append(f"  other: {other}")
    return "\n".join(rows)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> hostile.Seeds:
    return hostile.seeds(tmp_path_factory.mktemp("seeds"))


def test_fuzz_through_the_cli_in_process(seeds, tmp_path, capsys):
    cases = hostile.cases(seeds, N_CASES, SEED)
    started = time.perf_counter()
    tally = run_cases(cases, tmp_path, lambda c, d: in_process(c, d, capsys))
    with capsys.disabled():
        print("\n" + report("fuzz through netlab.cli.main", tally, time.perf_counter() - started))
    assert set(tally["cases"]) == set(hostile.FAMILIES)
    assert sum(tally["invalid"].values()) > len(cases) / 2  # mostly hostile...
    assert sum(tally["accepted_valid"].values()) >= 10  # ...and the valid ones still work
    assert not tally["found"], tally["found"][:10]


def test_fuzz_through_the_installed_command(seeds, tmp_path):
    cases = hostile.cases(seeds, N_PROCESS, SEED + 1)
    started = time.perf_counter()
    tally = run_cases(cases, tmp_path, through_entry_point)
    print("\n" + report("fuzz through the netlab command", tally, time.perf_counter() - started))
    assert set(tally["cases"]) == set(hostile.FAMILIES)
    assert not tally["found"], tally["found"][:10]
