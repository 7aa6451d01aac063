"""Where bytes come from and go, below the data and the models' publishing: run checkpoints on
disk (``checkpoints``), and the Hugging Face Hub over the network (``network``: one quick
connection test; ``hub_errors``: its failures as one line, for models and datasets alike)."""
