"""SIGTERM stops sweeps like Ctrl-C: real `netlab experiment` and `netlab reproduce` processes
signalled once a run has finished (to the main process only, as `kill PID` and docker stop do, or
to the whole process group, as Slurm does). Exit 143, one line saying what is kept and how to
continue, no worker left behind, no half-written file; the same command then finishes the sweep.
(`netlab train` under SIGTERM: test_faults.py.)"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from netlab.experiments.plan import read_summary

NETLAB = str(Path(sys.executable).with_name("netlab"))
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
ROOT = Path(__file__).resolve().parents[2]
SWEEP = """
name = "sweep"
seeds = 2
[overrides]
training = { epochs = 12 }
data = { source = "sample" }
[grid]
model = { hidden = [[64], [48], [32]] }
"""


def workers_of(pid: int) -> list[int]:
    """The worker processes of `pid` (Linux /proc): its children that run multiprocessing's
    spawn_main (not its resource tracker, which exits on its own when `pid` has)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and b"spawn_main" in command:
            out.append(int(stat.parent.name))
    return out


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


def stop_after_first_run(cmd: list[str], out: Path, group: bool) -> tuple[int, str, list[int]]:
    """Start `cmd`, send SIGTERM once a run's metrics.json exists; (exit code, stderr, the worker
    processes it had)."""
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)  # fmt: skip
    while proc.poll() is None and not list(out.glob("**/seed*/metrics.json")):
        time.sleep(0.02)
    workers = workers_of(proc.pid)
    if group:
        os.killpg(proc.pid, signal.SIGTERM)
    else:
        proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    return proc.returncode, err, workers


@pytest.mark.parametrize("group", [False, True], ids=["main process", "process group"])
def test_sigterm_stops_a_sweep_and_the_same_command_finishes_it(tmp_path, group):
    exp = tmp_path / "sweep.toml"
    exp.write_text(SWEEP)
    out = tmp_path / "out"
    cmd = [NETLAB, "experiment", str(exp), "--out", str(out), "--workers", "2", "--quiet"]
    code, err, workers = stop_after_first_run(cmd, out, group)
    assert code == 143, err
    (line,) = err.strip().splitlines()
    assert line.startswith("error: terminated (SIGTERM); ") and "are finished in" in line
    assert f"netlab experiment {exp} --out {out} trains the rest" in line
    assert workers and not any(alive(pid) for pid in workers)
    assert not list(out.rglob("*.tmp"))
    finished = {p: p.stat().st_mtime_ns for p in out.glob("*/seed*/metrics.json")}
    assert 1 <= len(finished) < 6
    done = subprocess.run([*cmd[:-1], "--json"], env=ENV, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert {p: p.stat().st_mtime_ns for p in finished} == finished  # kept, not retrained
    assert all(read_summary(p.parent) for p in out.glob("*/seed*/config.toml"))


def test_sigterm_stops_reproduce(tmp_path):
    """netlab reproduce on the study's files cut to 1 epoch of the sample: stopped after its first
    run, it says what is kept and that the same command continues."""
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    for path in (tmp_path / "configs" / "experiments").glob("*/*.toml"):
        path.write_text(path.read_text() + '\n[overrides]\ntraining = { epochs = 1 }\n'
                        'data = { source = "sample" }\n')  # fmt: skip
    report, out = tmp_path / "report.md", tmp_path / "runs"
    cmd = [NETLAB, "reproduce", "--experiments", str(tmp_path / "configs" / "experiments"),
           "--out", str(out), "--report", str(report), "--workers", "2", "--quiet"]  # fmt: skip
    code, err, workers = stop_after_first_run(cmd, out, group=False)
    assert code == 143, err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: terminated (SIGTERM); the finished runs are kept in {out}")
    assert "the same netlab reproduce command trains the rest" in line
    assert not report.exists() and not list(out.rglob("*.tmp"))
    assert workers and not any(alive(pid) for pid in workers)
