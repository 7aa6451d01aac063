"""Training in several processes under torchrun: where this process stands, and keeping the
processes' copies of the model identical.

Gradients are averaged over processes by ``ganzoo.optim.Stepper``, so parameters stay equal by
construction. Buffers are not trained: BatchNorm's running statistics follow each process's own
batches and drift apart. As DistributedDataParallel (``broadcast_buffers``) and StyleGAN2-ADA's
loop do, every buffer is copied from rank 0 after each step, and parameters and buffers from rank
0 once at the start. ``check_in_sync`` compares them across processes before a checkpoint.

Random draws (noise, augmentations) must differ between processes: with one seed everywhere every
process would draw the same noise, and the generator would learn from the local batch's worth of
distinct samples, not the global batch's. Rank 0 keeps the run's own random stream, so one
process trains exactly as before; the others draw from a stream seeded by (seed, step, rank)
before each step, so a resumed run draws what the uninterrupted one did although a checkpoint
holds rank 0's generators only (``reseed``).
"""

from __future__ import annotations

import hashlib
import os
import random
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ganzoo.devices import resolve_device
from ganzoo.errors import GanzooError


@dataclass
class Processes:
    """Where this process stands under torchrun (rank 0 of 1 otherwise)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def several(self) -> bool:
        return self.world_size > 1

    @classmethod
    def from_env(cls) -> Processes:
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size == 1:
            return cls()
        return cls(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))

    def device(self, requested: str) -> torch.device:
        device = resolve_device(requested)
        if self.several and device.type == "cuda":
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        return device

    def start(self, device: torch.device) -> None:
        if self.several and not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")

    def stop(self) -> None:
        if self.several and dist.is_initialized():
            dist.destroy_process_group()

    def reseed(self, seed: int, step: int) -> None:
        """Before each step, on every rank but 0: torch's and Python's random generators seeded
        from (seed, step, rank) (module docstring)."""
        if self.rank == 0:
            return
        digest = hashlib.sha256(f"{seed}/{step}/{self.rank}".encode()).digest()
        value = int.from_bytes(digest[:8], "little")
        torch.manual_seed(value)
        random.seed(value)

    # keeping the copies identical -------------------------------------------------------------
    def share_weights(self, model: torch.nn.Module) -> None:
        """Rank 0's parameters and buffers to every process (at the start of training)."""
        if self.several:
            with torch.no_grad():
                _broadcast([*model.parameters(), *model.buffers()])

    def share_buffers(self, model: torch.nn.Module) -> None:
        """Rank 0's buffers (BatchNorm statistics, EMA copies' buffers and counters) to every
        process; called after every step."""
        if self.several:
            _broadcast(list(model.buffers()))

    def check_in_sync(self, model: torch.nn.Module) -> None:
        """Fails when this process's parameters or buffers differ from rank 0's (a model that
        draws something at random per process, say); called before each checkpoint."""
        if not self.several:
            return
        with torch.no_grad():
            for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
                rank0 = tensor.detach().clone()
                dist.broadcast(rank0, src=0)
                if not torch.equal(tensor, rank0):
                    raise GanzooError(
                        f"process {self.rank} has another {name} than process 0: the processes' "
                        "copies of the model trained apart"
                    )


def _broadcast(tensors: list[torch.Tensor]) -> None:
    """Rank 0's values of ``tensors`` into every process: one flat broadcast per dtype, as
    Stepper averages gradients in one flat all-reduce."""
    by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
    for tensor in tensors:
        by_dtype.setdefault(tensor.dtype, []).append(tensor.detach())
    for group in by_dtype.values():
        flat = torch.cat([t.reshape(-1) for t in group])
        dist.broadcast(flat, src=0)
        offset = 0
        for t in group:
            t.copy_(flat[offset : offset + t.numel()].view_as(t))
            offset += t.numel()
