"""`netlab doctor`: versions, GPUs, and whether training on --device can work here (with graph
mode's kernels compiled and a tiny captured step checked against eager on a GPU)."""

from __future__ import annotations

import typer

from . import options
from .ui import console, print_json


def doctor(
    device: str = typer.Option(
        "cuda", "--device", "-d", help="The device to check: cuda, cuda:N, cpu or auto."
    ),
    json_out: bool = options.Json,
) -> None:
    """Show versions and GPUs, and check that training on --device works here."""
    from netlab.cuda.doctor import diagnose
    from netlab.errors import BackendError, NetlabError

    found = diagnose(device)
    if json_out:
        print_json(found.as_dict())
    else:
        marks = {True: "ok", False: "FAILED", None: ""}
        for line in found.lines:
            console.print(f"{line.name:<13} {line.detail} {marks[line.ok]}".rstrip(), markup=False)
    if found.unusable:
        raise BackendError(f"--device {device} cannot work here: {found.unusable}")
    if found.graph_broken:
        raise NetlabError(
            f"graph mode does not work on {device}: {found.graph_broken}; training falls back to "
            "eager CUDA (--no-graph skips the attempt); please report this output"
        )
