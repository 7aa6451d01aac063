"""Several machines: two torchrun agents on this host stand for two nodes (c10d rendezvous,
gloo), train one run together through the real `ganzoo run`, and resume it in the same launch.

Each process records a digest of every parameter and buffer after its loop, and of every noise
batch it drew: both ranks must end with equal weights, draw different noise (their own halves of
the global batch), and a run resumed from step 4 to 8 must end exactly where an uninterrupted
8-step run ends.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

TINY = ["--size", "32", "--batch-size", "8", "--threads", "1", "--seed", "3"]
TINY += ["--set", "generator_args.width=8", "--set", "discriminator_args.width=8"]
TINY += ["--set", "checkpoint_every=2", "--set", "ema=0.9", "--set", "augment=translation"]

RECORDER = textwrap.dedent("""
    import hashlib, json, os, sys
    import torch
    import ganzoo.training.train as engine
    from ganzoo.cli import main
    from ganzoo.models import UnconditionalGAN

    def digest(tensor):
        return hashlib.sha256(tensor.detach().contiguous().numpy().tobytes()).hexdigest()

    noise, loop, drawn = UnconditionalGAN.noise, engine._loop, []

    def recorded_noise(self, n, generator=None):
        z = noise(self, n, generator)
        if generator is None:  # training noise, not the previews' fixed noise
            drawn.append(digest(z))
        return z

    def recorded_loop(session, run):
        loop(session, run)
        state = {k: digest(v) for k, v in session.model.state_dict().items()
                 if isinstance(v, torch.Tensor)}
        name = f"{os.environ['RECORD']}-rank{os.environ['RANK']}.json"
        with open(name, "w") as f:
            json.dump({"state": state, "noise": drawn}, f)

    UnconditionalGAN.noise, engine._loop = recorded_noise, recorded_loop
    sys.exit(main())
""")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def two_nodes(tmp_path: Path, record: str, args: list[str]) -> str:
    """Runs `ganzoo ARGS` as two one-process nodes; returns both agents' stderr."""
    script = tmp_path / "recorder.py"
    script.write_text(RECORDER)
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1",
        "--rdzv_backend", "c10d", "--rdzv_endpoint", f"127.0.0.1:{free_port()}", str(script),
        *args,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RECORD": record}
    env["GANZOO_CACHE"] = str(tmp_path / "cache")
    nodes = [
        subprocess.Popen(
            command,
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        outputs = [node.communicate(timeout=300) for node in nodes]
    finally:
        for node in nodes:
            node.kill()
    errors = "\n".join(err for _, err in outputs)
    assert [node.returncode for node in nodes] == [0, 0], errors[-3000:]
    # one node wrote the run and says so; the other trained and said nothing
    assert sorted(out.count("run written to") for out, _ in outputs) == [0, 1]
    return errors


def records(tmp_path: Path, record: str) -> tuple[dict, dict]:
    rank0, rank1 = (json.loads((tmp_path / f"{record}-rank{r}.json").read_text()) for r in (0, 1))
    return rank0, rank1


def test_two_nodes_train_one_run_and_resume_it(tmp_path):
    run = str(tmp_path / "run")
    err = two_nodes(tmp_path, "first", ["run", "dcgan", "--data", "toon", "--steps", "4",
                                        "--out", run, *TINY])  # fmt: skip
    assert "global batch 8 (2 process(es) x 4)" in err
    print(err)  # the two-node output, for whoever reads the test log
    rank0, rank1 = records(tmp_path, "first")
    assert rank0["state"] == rank1["state"]
    assert any(k.startswith("ema.generator.module.") for k in rank0["state"])
    assert len(rank0["noise"]) == 4 and not set(rank0["noise"]) & set(rank1["noise"])

    err = two_nodes(tmp_path, "resumed", ["run", "dcgan", "--data", "toon", "--steps", "8",
                                          "--resume", run, "--threads", "1"])  # fmt: skip
    assert "steps 4..8" in err
    resumed0, resumed1 = records(tmp_path, "resumed")
    assert resumed0["state"] == resumed1["state"] != rank0["state"]

    # the same 8 steps in one go: the resumed run ends on the same bits, on both ranks
    two_nodes(tmp_path, "whole", ["run", "dcgan", "--data", "toon", "--steps", "8",
                                  "--out", str(tmp_path / "whole"), *TINY])  # fmt: skip
    whole0, whole1 = records(tmp_path, "whole")
    assert whole0["state"] == whole1["state"] == resumed0["state"]
    assert not (tmp_path / "runs").exists()  # nothing went to a default run directory
    assert whole0["noise"][4:] == resumed0["noise"] and whole1["noise"][4:] == resumed1["noise"]
