"""Optimizers from recipe fields, and the precision-aware step every training step goes through."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable
from typing import Any

import torch
import torch.distributed as dist

from ganzoo.errors import GanzooError

PRECISIONS = ("fp32", "bf16", "fp16")


def make_optimizer(
    params: Iterable[torch.nn.Parameter], recipe: dict[str, Any], lr: float
) -> torch.optim.Optimizer:
    name = str(recipe["optimizer"]).lower()
    params = list(params)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=tuple(recipe["betas"]))
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=tuple(recipe["betas"]))
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=float(recipe["momentum"]))
    raise GanzooError(f"unknown optimizer {name!r}; choose adam, adamw, rmsprop or sgd")


def lr_factor(step: int, total: int, decay_steps: int) -> float:
    """The learning rates' multiplier at ``step`` (0-based) of a ``total``-step run: 1, then over
    the last ``decay_steps`` a straight line down to 1 / decay_steps at the last step (CycleGAN's
    linear decay, which stops short of 0 the same way)."""
    if decay_steps <= 0:
        return 1.0
    return min(1.0, (total - step) / decay_steps)


def cpu_has_bf16() -> bool:
    """Whether oneDNN has native bf16 kernels here. Without them (an AVX2-only CPU) the
    translator's bf16 training step measured 10x slower than fp32 (docs/benchmarks.md)."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


class Stepper:
    """Runs backward and optimizer steps under the chosen precision.

    bf16 autocasts on CPU and CUDA; fp16 autocasts on CUDA with a gradient scaler so small
    gradients survive. Models call ``autocast()`` around forward passes and ``step(name, loss)``
    for each optimizer; the engine calls ``update()`` once per training step.
    """

    def __init__(
        self, optimizers: dict[str, torch.optim.Optimizer], device: torch.device, precision: str
    ):
        if precision not in PRECISIONS:
            raise GanzooError(f"unknown precision {precision!r}; choose {', '.join(PRECISIONS)}")
        if precision == "fp16" and device.type != "cuda":
            raise GanzooError("fp16 needs a CUDA device; use --precision bf16 on CPU")
        if precision == "bf16" and device.type == "cpu" and not cpu_has_bf16():
            warnings.warn(
                "this CPU has no bf16 instructions (AVX512-BF16 or AMX), so bf16 runs emulated "
                "and many times slower than fp32 (docs/benchmarks.md); --precision fp32 is faster",
                stacklevel=2,
            )
        self.optimizers = optimizers
        self.device_type = device.type
        self.dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
        self.scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def step(self, name: str, loss: torch.Tensor) -> None:
        optimizer = self.optimizers[name]
        optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
            self._average_gradients(optimizer)
            optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self._average_gradients(optimizer)
            self.scaler.step(optimizer)

    @staticmethod
    def _average_gradients(optimizer: torch.optim.Optimizer) -> None:
        """Under torchrun, averages gradients over processes, as DistributedDataParallel does.

        GAN steps call a network several times before one backward (real and fake through the
        discriminator), which DDP's autograd hooks do not allow, so the all-reduce is explicit:
        one flattened buffer per optimizer step, the same arithmetic as DDP's buckets.
        """
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return
        grads = [
            p.grad
            for group in optimizer.param_groups
            for p in group["params"]
            if p.grad is not None
        ]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= dist.get_world_size()
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()

    def scale_lr(self, factor: float) -> None:
        """Each parameter group's learning rate becomes ``factor`` times the one it started with
        (kept as ``initial_lr``, torch's schedulers' key, so that checkpoints carry it)."""
        for optimizer in self.optimizers.values():
            for group in optimizer.param_groups:
                group["lr"] = group.setdefault("initial_lr", group["lr"]) * factor

    def update(self) -> None:
        if self.scaler is not None:
            self.scaler.update()

    def state_dict(self) -> dict[str, Any]:
        state = {name: opt.state_dict() for name, opt in self.optimizers.items()}
        if self.scaler is not None:
            state["_scaler"] = self.scaler.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state[name])
        if self.scaler is not None and "_scaler" in state:
            self.scaler.load_state_dict(state["_scaler"])
