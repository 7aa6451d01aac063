"""Reproducible, resumable batches: the batch of step ``s`` depends only on (seed, s).

Each epoch is a fresh permutation drawn from ``seed + epoch``, so a run resumed at step ``k``
sees exactly the batches an uninterrupted run would have seen from ``k`` on. Under torchrun each
rank takes its own stride of the same permutation (what DistributedSampler does). Random flips
(the recipe's ``flip``) are drawn the same way, from (seed, rank, step).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch
from torch.utils.data import Sampler

from ganzoo.errors import GanzooError


class StepBatches(Sampler[list[int]]):
    def __init__(
        self,
        length: int,
        batch_size: int,
        seed: int,
        start_step: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ):
        self.per_rank = length // world_size
        self.batches_per_epoch = self.per_rank // batch_size
        if self.batches_per_epoch == 0:
            raise GanzooError(
                f"the dataset has {length} images, fewer than one batch of {batch_size}"
                + (f" per process ({world_size} processes)" if world_size > 1 else "")
            )
        self.length, self.batch_size, self.seed = length, batch_size, seed
        self.start_step, self.rank, self.world_size = start_step, rank, world_size

    def _epoch_order(self, epoch: int) -> torch.Tensor:
        order = torch.randperm(
            self.length, generator=torch.Generator().manual_seed(self.seed + epoch)
        )
        return order[self.rank : self.per_rank * self.world_size : self.world_size]

    def __iter__(self) -> Iterator[list[int]]:
        step = self.start_step
        while True:
            epoch, index = divmod(step, self.batches_per_epoch)
            order = self._epoch_order(epoch)
            for i in range(index, self.batches_per_epoch):
                yield order[i * self.batch_size : (i + 1) * self.batch_size].tolist()
            step = (epoch + 1) * self.batches_per_epoch

    def __len__(self) -> int:  # endless; DataLoader only needs a number
        return 2**62


def random_flips(
    batches: Iterable[torch.Tensor], seed: int, start_step: int = 0, rank: int = 0
) -> Iterator[torch.Tensor]:
    """Each image of each batch ``[N, C, H, W]`` mirrored left-right with probability 1/2."""
    for step, batch in enumerate(batches, start_step):
        stream = ((seed * 7919 + rank) * 1_000_003 + step) % 2**63  # one per (seed, rank, step)
        draw = torch.Generator().manual_seed(stream)
        mirrored = torch.rand(len(batch), generator=draw) < 0.5
        yield torch.where(mirrored[:, None, None, None], batch.flip(-1), batch)
