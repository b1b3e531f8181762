"""`netlab data info` and `netlab data download`."""

from __future__ import annotations

import typer

from . import options
from .ui import console, print_json, table

app = typer.Typer(help="Find, check and download the data sets.", no_args_is_help=True)


@app.command("info")
def info(
    data: str = typer.Option("fashion-mnist", "--data", help=options.data_help()),
    data_dir: str = options.DataDir,
    json_out: bool = options.Json,
) -> None:
    """Where the data was found, counts per split and class, and whether checksums match."""
    from netlab.data.sources import data_info

    source, location = options.data_location(data, data_dir)
    report = data_info(source, location)
    if json_out:
        print_json(report)
        return
    console.print(f"{report['source']}: {report['location']} (found via {report['found_by']})")
    console.print(
        table(
            "Files",
            ["file", "sha256", "checksum"],
            [
                [f["file"], (f["sha256"] or "")[:16] + "...", "ok" if f["ok"] else "MISMATCH"]
                for f in report["files"]
            ],
            justify_right=False,
        )
    )
    console.print(
        table(
            "Examples per class",
            ["class", "train", "test"],
            [
                [n, a, b]
                for n, a, b in zip(
                    report["class_names"],
                    report["train_per_class"],
                    report["test_per_class"],
                    strict=True,
                )
            ]
            + [["total", report["train_count"], report["test_count"]]],
        )
    )


@app.command("download")
def download_cmd(
    dataset: str = typer.Option(
        "fashion-mnist", "--dataset", help="Which data set: fashion-mnist or mnist."
    ),
    dest: str = typer.Option(
        None,
        "--dir",
        help="Target directory (default: $NETLAB_DATA for fashion-mnist, else "
        "~/.cache/netlab/<dataset>).",
    ),
    base_url: str = typer.Option(
        None, "--base-url", help="Where the four .gz files are served (https; default: official)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
) -> None:
    """Download the official files over HTTPS and verify their SHA-256 checksums."""
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    from netlab.data.download import download
    from netlab.data.sources import REMOTES
    from netlab.errors import ConfigError

    if dataset not in REMOTES:
        raise ConfigError(f"--dataset must be one of {', '.join(REMOTES)}; got {dataset!r}")

    show = not quiet and console.is_terminal
    with Progress(
        *Progress.get_default_columns(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        disable=not show,
    ) as progress:
        tasks: dict[str, int] = {}

        def on_bytes(name: str, done: int, total: int | None) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=total)
            progress.update(tasks[name], completed=done)

        results = download(REMOTES[dataset], dest, base_url=base_url,
                           progress=on_bytes if show else None, dataset=dataset)  # fmt: skip
    if not quiet:
        for r in results:
            console.print(f"{r['status']:>10}  {r['file']}  (sha256 verified)")
