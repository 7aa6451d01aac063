"""Image-quality metrics: the ``Metric`` interface, and the built-in metrics registered in
``ganzoo.builtins`` (fid, kid, is, precision, recall, density, coverage, swd, msssim,
toon-modes, toon-content, toon-fid).

Submodules import torch and torch-fidelity; ``ganzoo list`` never imports them.
"""

from ganzoo.metrics.base import Context, Metric, MetricResult

__all__ = ["Context", "Metric", "MetricResult"]
