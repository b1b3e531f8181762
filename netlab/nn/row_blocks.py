"""A stack's optimizer update, a few rows at a time where the backend asks for it.

An optimizer over a stack (nn/stack.py) updates (K, P) buffers, each row one model's, with a few
whole-buffer passes (optimizers.py). On the CPU those passes stream every row's parameters,
gradients and state once each; K rows at once leave a core's cache between the passes, a few
rows at a time stay in it (Backend.row_block says how many). Each block is a copy of the
optimizer viewing its rows and their (K, 1) settings, so its numbers are those of the update of
all rows at once: the update is elementwise along each row.
"""

from __future__ import annotations

from typing import Any


def row_blocks(opt: Any) -> list[Any]:
    """[opt] (a model alone, or a backend that updates all rows at once), else copies of `opt`
    over consecutive blocks of its rows, made again when one of the arrays they view is replaced
    (a new epoch's learning rates, rows leaving the stack)."""
    if opt.flat.ndim == 1:
        return [opt]
    rows = opt.backend.row_block(opt.flat[0].nbytes * (2 + len(opt.buffers)))
    if rows is None or rows >= len(opt.flat):
        return [opt]
    # The blocks view (and so keep alive) these arrays: their ids cannot be reused meanwhile.
    held = (opt.flat, opt.grad_flat, *opt.state.values(), opt.lr,
            *(getattr(opt, k) for k in opt.hyper))  # fmt: skip
    key = tuple(map(id, held))
    cached = opt.__dict__.get("_blocks")
    if cached is None or cached[0] != key:
        blocks = [_rows(opt, r, r + rows) for r in range(0, len(opt.flat), rows)]
        cached = opt._blocks = (key, blocks)
    for part in cached[1]:
        part.steps = opt.steps
    return cached[1]


def _rows(opt: Any, start: int, stop: int) -> Any:
    part = opt.__class__.__new__(opt.__class__)
    own = ("_blocks", "_cast")  # each block casts its own rows' settings (Optimizer.c)
    part.__dict__.update({k: v for k, v in opt.__dict__.items() if k not in own})
    part.flat, part.grad_flat = opt.flat[start:stop], opt.grad_flat[start:stop]
    part.state = {name: buf[start:stop] for name, buf in opt.state.items()}
    for key in ("lr", *opt.hyper):
        value = getattr(opt, key)
        if not isinstance(value, (bool, int, float)):
            setattr(part, key, value[start:stop])
    return part
