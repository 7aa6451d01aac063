"""The engine: one loop for every model (``train``), and its parts: batches that depend only on
(seed, step), run directories, the step log, checkpoints kept and pruned, torchrun processes,
CPU threads and the sample grids and loss plots written while training."""
