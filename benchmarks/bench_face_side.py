"""Measure a compact face side: linear probes on fc7 and the judged upper bound (issue 14).

Probes: held-out rendered persons (``render_face_set``, a seed the pretraining never used),
features of the first scene; logistic regression (gender, ethnicity, age group) and ridge
regression (face size, background RGB) on standardised fc7, fitted on the first half and
scored on the second. Upper bound: true face -> face encoder -> face decoder -> bias-lab
judge, agreement with the true labels per ethnicity, next to the judge's accuracy on the true
faces; plus the share of reconstructions closer (fc7 cosine and pixel L2) to their own true
face than to every other face in a gallery of 100.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_face_side.py [--weights shipped|DIR]
[--persons 2000] [--judge-faces 6000] [--grid docs/images/face_side.png] [--update-card]``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

PROBE_SEED = 12345  # rendered persons never seen in pretraining (which uses seed 0 .. k)


def probe_features(feats: np.ndarray, data: Any) -> dict[str, float]:
    """Linear probes on ``feats`` (persons, D) of a ``FaceSet``: fit first half, score second.

    Returns accuracy for ``gender``, ``ethnicity``, ``age_group`` and R^2 for ``face_size``,
    ``background`` (mean over R, G, B), and ``live_units``: fc7 units active (> 0) on at
    least 1 % of the fitting persons, the only ones the probes use. A unit that fires on
    one or two persons would be multiplied by up to 1e9 by the standardisation and swamps
    the ridge fit (measured: background R^2 of -723 on a face side with such a unit).
    """
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.metrics import r2_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    n = len(feats) // 2
    fit, test = slice(0, n), slice(n, None)
    live = (feats[fit] > 0).mean(0) >= 0.01  # (D,) ReLU units that fire on >= 1 % of fit rows
    feats = feats[:, live]
    out: dict[str, float] = {}
    for name in ("gender", "ethnicity", "age_group"):
        y = getattr(data, name)
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
        clf.fit(feats[fit], y[fit])
        out[name] = float((clf.predict(feats[test]) == y[test]).mean())
    targets = {"face_size": data.targets[:, 0], "background": data.background[:, 0]}
    for name, y in targets.items():
        reg = make_pipeline(StandardScaler(), Ridge(alpha=10.0))
        reg.fit(feats[fit], y[fit])
        out[name] = float(r2_score(y[test], reg.predict(feats[test])))
    out["live_units"] = int(live.sum())
    return out


def nearest_own_share(
    recon: np.ndarray, true: np.ndarray, gallery: int = 100, seed: int = 0
) -> float:
    """Share of rows whose ``recon`` is closer (L2) to its own ``true`` row than to the
    other ``gallery - 1`` rows of a random gallery that contains it."""
    rng = np.random.default_rng(seed)
    hits = []
    for i in range(len(recon)):
        others = rng.choice(np.delete(np.arange(len(true)), i), gallery - 1, replace=False)
        d_own = np.sum((recon[i] - true[i]) ** 2)
        d_other = np.sum((recon[i] - true[others]) ** 2, axis=1)
        hits.append(bool(d_own < d_other.min()))
    return float(np.mean(hits))


def _cos_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-8)


def _judge_labels(judge: Any, images: np.ndarray) -> dict[str, np.ndarray]:
    """Most probable label of each attribute for ``(N, H, W, 3)`` uint8 images."""
    proba = judge.predict_proba(images)
    return {a: np.asarray(judge.vocabularies[a])[p.argmax(1)] for a, p in proba.items()}


def upper_bound(model: Any, data: Any, judge: Any) -> dict[str, Any]:
    """Judge true faces and their reconstructions; per-ethnicity agreement and nearest-own."""
    import torch

    from s2f_data.biaslab.faces import ETHNICITIES, GENDERS
    from s2f_model import images_to_uint8
    from s2f_model._face_side import face_features

    true = data.images[:, 0]
    feats = face_features(model, true)
    with torch.no_grad():
        recon = model.face_decoder(torch.from_numpy(feats)).image
    recon_u8 = images_to_uint8(recon)
    p_true, p_rec = _judge_labels(judge, true), _judge_labels(judge, recon_u8)
    eth = np.array(ETHNICITIES)[data.ethnicity]
    gen = np.array(GENDERS)[data.gender]
    rows = []
    for group in ETHNICITIES:
        m = eth == group
        rows.append(
            {
                "ethnicity": group,
                "n": int(m.sum()),
                "judge_gender_true": float((p_true["gender"][m] == gen[m]).mean()),
                "judge_gender_recon": float((p_rec["gender"][m] == gen[m]).mean()),
                "judge_ethnicity_true": float((p_true["ethnicity"][m] == eth[m]).mean()),
                "judge_ethnicity_recon": float((p_rec["ethnicity"][m] == eth[m]).mean()),
            }
        )
    rec_feats = face_features(model, recon_u8)
    return {
        "per_ethnicity": rows,
        "nearest_own_feature": nearest_own_share(_cos_rows(rec_feats), _cos_rows(feats)),
        "nearest_own_pixel": nearest_own_share(
            recon_u8.reshape(len(recon_u8), -1).astype(np.float32),
            true.reshape(len(true), -1).astype(np.float32),
        ),
        "recon": recon_u8,
    }


def write_grid(path: Path, data: Any, recon: np.ndarray, per_cell: int = 2) -> None:
    """PNG grid: for each ethnicity x gender, ``per_cell`` pairs (true | reconstruction)."""
    from PIL import Image

    from s2f_data.biaslab.faces import ETHNICITIES, GENDERS

    rows = []
    for e in range(len(ETHNICITIES)):
        tiles = []
        for g in range(len(GENDERS)):
            idx = np.flatnonzero((data.ethnicity == e) & (data.gender == g))[:per_cell]
            for i in idx:
                tiles += [data.images[i, 0], recon[i], np.full_like(recon[i][:, :4], 255)]
        rows.append(np.concatenate(tiles, axis=1))
    Image.fromarray(np.concatenate(rows, axis=0)).resize(
        (rows[0].shape[1] * 2, len(rows) * rows[0].shape[0] * 2), Image.Resampling.NEAREST
    ).save(path)


def _train_judge(n_faces: int, seed: int, folder: Path | None = None) -> Any:
    """Train a judge on ``n_faces`` rendered faces, or load it from ``folder`` (cache)."""
    from audit.judges._biaslab import load_judge, render_judge_dataset, train_biaslab_judge

    if folder is not None and (folder / "judge.json").is_file():
        return load_judge(folder)
    images, labels = render_judge_dataset(n_faces, size=64, seed=seed)
    judge = train_biaslab_judge(images, labels, labels["face_id"], seed=seed)
    if folder is not None:
        judge.save(folder)
    return judge


def _with_ci(rate: float, n: int) -> str:
    """``rate [low, high]``: the Wilson 95 % interval of ``round(rate * n)`` hits in ``n``."""
    from scipy.stats import binomtest

    ci = binomtest(round(rate * n), n).proportion_ci(0.95, method="wilson")
    return f"{rate:.3f} [{ci.low:.3f}, {ci.high:.3f}]"


def markdown(result: dict[str, Any]) -> str:
    """The probe and upper-bound tables of a ``measured`` record, as Markdown.

    Agreement rates carry Wilson 95 % intervals (each face judged once, so ``n`` faces are
    ``n`` independent trials).
    """
    p = result["probes"]
    lines = [
        "| probe | measured | target (issue 14) |",
        "| --- | --- | --- |",
        f"| gender accuracy | {p['gender']:.3f} | >= .95 |",
        f"| ethnicity accuracy | {p['ethnicity']:.3f} | >= .95 |",
        f"| age group accuracy | {p['age_group']:.3f} | >= .75 |",
        f"| face-size R^2 | {p['face_size']:.3f} | >= .80 |",
        f"| background colour R^2 | {p['background']:.3f} | <= .10 |",
    ]
    ub = result.get("upper_bound")
    if ub:
        lines += [
            "",
            "| ethnicity | n | gender: true face | gender: upper bound | ethnicity: true face "
            "| ethnicity: upper bound |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for r in ub["per_ethnicity"]:
            cells = [
                _with_ci(r[k], r["n"])
                for k in (
                    "judge_gender_true",
                    "judge_gender_recon",
                    "judge_ethnicity_true",
                    "judge_ethnicity_recon",
                )
            ]
            lines.append(f"| {r['ethnicity']} | {r['n']} | " + " | ".join(cells) + " |")
        lines += [
            "",
            f"Reconstruction nearest its own true face in a 100-face gallery: "
            f"{ub['nearest_own_feature']:.3f} by fc7 cosine, {ub['nearest_own_pixel']:.3f} "
            f"by pixel L2 (chance 0.010).",
        ]
    return "\n".join(lines)


def _shipped_judge() -> Any:
    try:
        from audit.judges._shipped import shipped_judge
    except ImportError:
        return None
    return shipped_judge()


def main() -> None:
    import torch

    from s2f_model._face_side import face_features
    from s2f_model._face_side_data import render_face_set
    from s2f_model._face_side_io import load_face_side_model, shipped_card_path

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--weights",
        default="shipped",
        help="'shipped' or a folder from s2f-audit face-side --out DIR",
    )
    ap.add_argument("--persons", type=int, default=2000)
    ap.add_argument(
        "--judge-faces",
        type=int,
        default=0,
        help="train a judge on this many rendered faces; 0: the shipped judge if the "
        "package has one, else no upper bound",
    )
    ap.add_argument("--judge-dir", type=Path, help="cache of the trained judge")
    ap.add_argument("--grid", type=Path)
    ap.add_argument("--update-card", action="store_true")
    ap.add_argument("--markdown", action="store_true", help="print the card's tables only")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.markdown:
        folder = None if args.weights == "shipped" else Path(args.weights)
        card = shipped_card_path() if folder is None else folder / "compact_face_side.json"
        print(markdown(json.loads(card.read_text())["measured"]))
        return
    model = load_face_side_model(None if args.weights == "shipped" else Path(args.weights))
    start = time.perf_counter()
    data = render_face_set(args.persons, seed=PROBE_SEED)
    probes = probe_features(face_features(model, data.images[:, 0]), data)
    print("probe (held-out rendered persons, fit on half, scored on half):")
    for k, v in probes.items():
        print(f"  {k:12s} {v:.3f}")
    result: dict[str, Any] = {
        "probe_persons": args.persons,
        "probe_seed": PROBE_SEED,
        "probes": probes,
    }
    judge = (
        _train_judge(args.judge_faces, seed=1, folder=args.judge_dir)
        if args.judge_faces
        else _shipped_judge()
    )
    if judge is not None:
        ub = upper_bound(model, data, judge)
        recon = ub.pop("recon")
        result["upper_bound"] = ub
        result["judge"] = f"trained on {args.judge_faces} faces" if args.judge_faces else "shipped"
        print(json.dumps(ub, indent=1))
        if args.grid:
            write_grid(args.grid, data, recon)
    print(f"{time.perf_counter() - start:.0f} s")
    if args.update_card:
        path = (
            shipped_card_path()
            if args.weights == "shipped"
            else Path(args.weights) / "compact_face_side.json"
        )
        card = json.loads(path.read_text())
        card["measured"] = result
        path.write_text(json.dumps(card, indent=1) + "\n")


if __name__ == "__main__":
    main()
