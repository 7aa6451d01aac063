"""PatchNCE (Park et al. 2020, "Contrastive Learning for Unpaired Image-to-Image Translation"):
a patch of a translation should match the patch of the input at the same place more than any
other patch of that input, in the generator's own encoder features.

For each feature map, ``patches`` positions are drawn at random; a small MLP per map projects the
input's and the translation's features there to unit vectors; the loss is the InfoNCE
cross-entropy of each translation patch against the input patch at its position (the positive)
and the input's other drawn patches (the negatives), at temperature 0.07. The input's side is
detached, as in the reference. Any generator that implements ``Generator.features`` can use it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class PatchNCE(nn.Module):
    """The projection heads and the loss. Build it with the channels of each feature map
    (``channels_of``) and call it as ``loss = nce(generator, source, translation)``.

    Args:
        channels: channels of each feature map the generator's ``features`` returns.
        patches: positions drawn per map and image (256 in the reference).
        dim: width of the projection heads (256 in the reference).
        temperature: the softmax temperature (0.07 in the reference).
    """

    def __init__(
        self, channels: list[int], patches: int = 256, dim: int = 256, temperature: float = 0.07
    ):
        super().__init__()
        self.patches = patches
        self.temperature = temperature
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(c, dim), nn.ReLU(inplace=True), nn.Linear(dim, dim))
            for c in channels
        )
        for head in self.heads:  # the reference's init: Xavier with gain 0.02, zero biases
            for layer in head:
                if isinstance(layer, nn.Linear):
                    nn.init.xavier_normal_(layer.weight, gain=0.02)
                    nn.init.zeros_(layer.bias)

    def forward(
        self, generator: nn.Module, source: Tensor, translation: Tensor, mirrored: bool = False
    ) -> Tensor:
        """``mirrored``: the translation was made from the mirrored source, so its feature maps
        are mirrored back before they are compared with the source's."""
        keys = generator.features(source)
        queries = generator.features(translation)
        if mirrored:
            queries = [query.flip(-1) for query in queries]
        losses = []
        for head, key, query in zip(self.heads, keys, queries, strict=True):
            positions = draw_positions(key, self.patches)
            k = F.normalize(head(gather(key, positions)), dim=-1).detach()
            q = F.normalize(head(gather(query, positions)), dim=-1)
            losses.append(info_nce(q, k, self.temperature))
        return torch.stack(losses).mean()


def channels_of(generator: nn.Module, channels: int, size: tuple[int, int]) -> list[int]:
    """The channels of each of ``generator.features``' maps, from one small probe."""
    with torch.no_grad():
        probe = torch.zeros(1, channels, *size, device=next(generator.parameters()).device)
        return [f.shape[1] for f in generator.features(probe)]


def draw_positions(feature: Tensor, patches: int) -> Tensor:
    """``min(patches, H*W)`` distinct flat positions, the same for every image of the batch."""
    count = feature.shape[2] * feature.shape[3]
    return torch.randperm(count, device=feature.device)[: min(patches, count)]


def gather(feature: Tensor, positions: Tensor) -> Tensor:
    """``[N, P, C]``: each image's feature vectors at the flat ``positions``."""
    return feature.flatten(2).transpose(1, 2)[:, positions]


def info_nce(q: Tensor, k: Tensor, temperature: float) -> Tensor:
    """Cross-entropy of each query ``[N, P, D]`` against its own key (the positive) and the other
    keys of the same image (the negatives)."""
    logits = torch.bmm(q, k.transpose(1, 2)) / temperature  # [N, P, P], positives on the diagonal
    targets = torch.arange(q.shape[1], device=q.device).expand(q.shape[0], -1)
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())
