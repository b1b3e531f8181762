"""How large the study's N(0, 1)-init ReLU losses get, for the divergence rule (docs/cli.md).

For each variant and seed: the loss of the initial weights on the training split, and the largest
training or validation loss after any epoch. Full Fashion-MNIST, configs/paper/baseline.toml.

    .venv/bin/python scripts/study_losses.py --seeds 5 --epochs 100 --batch1-epochs 3
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from netlab.config import load_config, with_overrides
from netlab.nn.backend import get_backend
from netlab.training.evaluation import evaluate
from netlab.training.loop import seeded_rngs
from netlab.training.run import build_model, load_prepared, train

PAPER = Path(__file__).resolve().parents[1] / "configs" / "paper" / "baseline.toml"
VARIANTS = {  # name: (activation, lr, batch size), the study's two ReLU settings
    "relu, lr 1.2e-2, batch 128": ("relu", 1.2e-2, 128),
    "leaky relu, lr 1.2e-2, batch 128": ("leaky_relu", 1.2e-2, 128),
    "relu, lr 1.2e-4, batch 1": ("relu", 1.2e-4, 1),
    "leaky relu, lr 1.2e-4, batch 1": ("leaky_relu", 1.2e-4, 1),
}


def initial_loss(config) -> float:
    """Training-split loss of the weights the run starts from (same seed, same split)."""
    backend = get_backend("cpu", config.training.dtype)
    rngs = seeded_rngs(config.training.seed)
    data = load_prepared(config, backend, rngs.split)
    model = build_model(config, data.n_features, data.n_classes, rngs.init, backend)
    with np.errstate(over="ignore", invalid="ignore"):
        return evaluate(model, data.X, data.y, data.train_rows).loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=100, help="epochs of the batch-128 runs")
    parser.add_argument("--batch1-epochs", type=int, default=3, help="epochs of the batch-1 runs")
    args = parser.parse_args()
    print("| variant | seed | initial loss | largest loss after an epoch (train, val) |")
    print("|---|---|---|---|")
    for name, (activation, lr, batch) in VARIANTS.items():
        for seed in range(args.seeds):
            epochs = args.epochs if batch > 1 else args.batch1_epochs
            config = with_overrides(load_config(PAPER), {
                "model.activation": activation, "training.lr": lr, "training.batch_size": batch,
                "training.epochs": epochs, "training.seed": seed,
            }).resolved()  # fmt: skip
            history = train(config).fit.history
            top = max(max(r["train_loss"], r["val_loss"]) for r in history)
            print(f"| {name} ({epochs} epochs) | {seed} | {initial_loss(config):.1f} | {top:.2f} |",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
