"""Worker for the 2-process shard-training test (``torchrun --nproc_per_node 2``).

Usage: ``python _shard_ddp_worker.py MANIFEST SHARD_DIR OUT_DIR``. Every rank trains the
test-sized model from the shards (``train.data="shards"``) with gloo and logs at INFO, so
the test can read each rank's per-epoch sample counts from stderr.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from conftest import TINY_OVERRIDES

from s2f_model import S2FConfig
from s2f_model._train import train


def main() -> None:
    """Train from the shards under torchrun."""
    manifest, shards, out = sys.argv[1:4]
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    cfg = S2FConfig.compact().replace(
        **{
            **TINY_OVERRIDES,
            "train.data": "shards",
            "train.shard_dir": shards,
            "train.batch_size": 4,  # 2 clips per rank and step
            "train.face_steps": 2,
        }
    )
    train(cfg, manifest, out, progress=False)


if __name__ == "__main__":
    main()
