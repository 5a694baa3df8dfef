"""The bias-lab judge shipped with the package, and the one command that regenerates it.

The judge is trained once on rendered bias-lab faces (``SHIPPED_RECIPE``) and shipped as
``audit/judges/weights/judge.safetensors`` + ``judge.json`` (:meth:`BiasLabJudge.save`'s
format), so an audit of bias-lab data does not spend a minute training one. Regenerate it,
bit for bit on the same torch build, with one thread::

    OMP_NUM_THREADS=1 python -m audit.judges._shipped [--out audit/judges/weights]

``tests/audit/test_judges_biaslab.py`` checks the shipped file's SHA-256 against
``SHIPPED_SHA256`` (update both together).
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import Any

from audit.judges._biaslab import (
    BiasLabJudge,
    load_judge,
    render_judge_dataset,
    train_biaslab_judge,
)

__all__ = [
    "SHIPPED_DIR",
    "SHIPPED_RECIPE",
    "shipped_judge",
    "shipped_judge_sha256",
    "train_shipped_judge",
]

#: Folder of the shipped judge inside the package.
SHIPPED_DIR = Path(__file__).resolve().parent / "weights"
#: How the shipped judge is made: rendered faces (balanced over gender x age group x
#: ethnicity), the seed of rendering, split, initialisation and augmentation, and the torch
#: threads (CPU results depend on the thread count).
SHIPPED_RECIPE: dict[str, Any] = {"n_faces": 16000, "seed": 0, "image_size": 64, "threads": 1}
#: SHA-256 of the shipped ``judge.safetensors`` (checked by a test).
SHIPPED_SHA256 = "75652aa70c7883626cd0eeee99eca6d80ff3d861c744bef441bccb9e1bcffc6d"


def shipped_judge() -> BiasLabJudge | None:
    """Load the shipped judge, or return None when the package carries none."""
    if not (SHIPPED_DIR / "judge.json").is_file():
        return None
    return load_judge(SHIPPED_DIR)


def shipped_judge_sha256() -> str | None:
    """SHA-256 of the shipped judge's weights file, or None when the package carries none.

    What a cached result judged by the shipped judge should name it by: a package upgrade
    that ships another judge changes it.
    """
    weights = SHIPPED_DIR / "judge.safetensors"
    return file_sha256(weights) if weights.is_file() else None


def train_shipped_judge(out: str | Path = SHIPPED_DIR) -> Path:
    """Render the faces and train, calibrate, evaluate and save the judge of the recipe.

    Parameters
    ----------
    out : path-like
        Folder to write ``judge.safetensors`` and ``judge.json`` into.

    Returns
    -------
    pathlib.Path
        The folder.
    """
    import torch  # lazily: `import audit.judges` stays torch-free

    r = SHIPPED_RECIPE
    threads = torch.get_num_threads()
    torch.set_num_threads(r["threads"])
    try:
        images, labels = render_judge_dataset(r["n_faces"], size=r["image_size"], seed=r["seed"])
        judge = train_biaslab_judge(images, labels, labels["face_id"], seed=r["seed"])
    finally:
        torch.set_num_threads(threads)
    judge.training = {**judge.training, "request": dict(r), "shipped": True}
    return judge.save(out)


def file_sha256(path: str | Path) -> str:
    """SHA-256 hex digest of a file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def main() -> None:
    """Command line: regenerate the shipped judge and print its SHA-256."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SHIPPED_DIR)
    args = parser.parse_args()
    folder = train_shipped_judge(args.out)
    print(f"{folder / 'judge.safetensors'}: sha256 {file_sha256(folder / 'judge.safetensors')}")


if __name__ == "__main__":
    main()
