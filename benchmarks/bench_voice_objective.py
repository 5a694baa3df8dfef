"""Voice objective benchmark: what the compact voice encoder learns under each objective.

Trains the compact voice encoder (one thread per training, two side by side, like the demo)
on a bias-lab training population with a fixed face side, then measures on held-out
speakers of an evaluation population:

- linear probes on the voice embedding (the predicted face feature, and the first FC
  layer's activations), 5-fold cross-validation grouped by speaker: language balanced
  accuracy, gender accuracy, face-size R^2; the same probes on mean + std of the compressed
  spectrum over time (the input baseline);
- cosine(prediction, true face feature) against cosine(mean training feature, true face
  feature);
- retrieval recall@1 of the true face in 100-face galleries (chance 1/100).

Usage::

    s2f-audit population --preset web-skewed --speakers 400 --seed 0 --out /tmp/pop-train
    s2f-audit population --preset representative --eval --seed 0 --out /tmp/pop-eval
    OMP_NUM_THREADS=1 python benchmarks/bench_voice_objective.py \\
        --train /tmp/pop-train/manifest.csv --eval /tmp/pop-eval/manifest.csv \\
        --face-from RUN --work /tmp/voice-bench --variants paper,standardized_aux \\
        --seeds 0,1,2 [--voice-steps 250] [--jobs 2]

``--face-from`` is a finished run whose face side is reused (e.g. trained with
``train.voice_steps=0``); the variants' configs take its face and decoder settings.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

#: Variants: dotted overrides of the face run's config (the compact preset).
PAPER = {
    "loss.objective": "paper",
    "voice.standardize_output": False,
    "loss.aux_targets": [],
    "voice.aux_classes": [],
    "voice.pooling": "mean",
    "voice.input_stats": False,
}
STD = {
    "loss.objective": "standardized",
    "voice.standardize_output": True,
    "loss.aux_targets": [],
    "voice.aux_classes": [],
    "voice.pooling": "mean",
    "voice.input_stats": False,
}
AUX = ["gender", "age_group", "language", "accent", "face_size"]
VARIANTS: dict[str, dict[str, Any]] = {
    "paper": PAPER,
    "standardized": STD,
    "standardized_aux": {**STD, "loss.aux_targets": AUX},
    "standardized_aux_meanstd": {**STD, "loss.aux_targets": AUX, "voice.pooling": "mean_std"},
    "standardized_aux_w05": {**STD, "loss.aux_targets": AUX, "loss.aux_weight": 0.5},
    "standardized_aux_w2": {**STD, "loss.aux_targets": AUX, "loss.aux_weight": 2.0},
    # + mean and std over time of the input spectrum, fed to fc1 (voice.input_stats)
    "standardized_aux_stats": {**STD, "loss.aux_targets": AUX, "voice.input_stats": True},
}


def _train_one(
    cfg_dict: dict[str, Any], manifest: str, out: str, face_from: str
) -> dict[str, float]:
    import torch

    from s2f_model import S2FConfig, train

    torch.set_num_threads(1)
    t0, c0 = time.perf_counter(), time.process_time()
    result = train(
        S2FConfig.from_dict(cfg_dict), manifest, out, progress=False, face_from=face_from
    )
    return {
        "wall_s": time.perf_counter() - t0,
        "cpu_s": time.process_time() - c0,
        "voice_cpu_s": result.stage_cpu_seconds.get("voice", float("nan")),
    }


def _config(face_from: Path, variant: str, seed: int, steps: int) -> dict[str, Any]:
    from s2f_model import S2FConfig, load_checkpoint

    base = S2FConfig.from_dict(load_checkpoint(face_from, map_location="cpu").meta["config"])
    overrides = {
        **VARIANTS[variant],
        "train.seed": seed,
        "train.voice_steps": steps,
        "train.checkpoint_every": 100_000,
    }
    return base.replace(**overrides).to_dict()


def _encode(run: Path, manifest: Path) -> dict[str, Any]:
    """Predictions, hidden activations, spectrum statistics and true-face features."""
    import torch

    from s2f_data import read_manifest
    from s2f_model import load_model
    from s2f_model._data import load_voice_face_data

    model = load_model(run).eval()
    cfg = model.cfg
    man = read_manifest(manifest)
    data = load_voice_face_data(
        man,
        None,
        sample_rate=cfg.audio.sample_rate,
        clip_samples=cfg.audio.clip_samples,
        image_size=cfg.face.image_size,
        progress=False,
    )
    preds, hidden, stats = [], [], []
    with torch.no_grad():
        for start in range(0, len(data), 64):
            spec = model.frontend(data.waves[start : start + 64])
            h = model.voice_encoder.embed(spec)
            preds.append(model.voice_encoder.unstandardize(model.voice_encoder.heads(h)[0]))
            hidden.append(h)
            s = spec.flatten(1, 2)  # (batch, channels * freq, frames)
            stats.append(torch.cat([s.mean(2), s.std(2)], 1))
        faces = torch.cat(
            [
                model.encode_face(
                    data.faces.batch(torch.arange(i, min(i + 64, len(data.faces))))["image"]
                )
                for i in range(0, len(data.faces), 64)
            ]
        )
    frame = man.frame.set_index("utterance_id").loc[data.utterance_ids]
    return {
        "pred": torch.cat(preds).numpy(),
        "hidden": torch.cat(hidden).numpy(),
        "spectrum": torch.cat(stats).numpy(),
        "faces": faces.numpy(),
        "face_set": data.faces,
        "face_index": data.face_index.numpy(),
        "frame": frame,
    }


def _probes(x: np.ndarray, frame: Any, seed: int) -> dict[str, float]:
    """Grouped 5-fold linear probes: language balanced accuracy, gender, face-size R^2."""
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.metrics import balanced_accuracy_score, r2_score
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    groups = frame["speaker_id"].to_numpy()
    folds = list(GroupKFold(n_splits=5, shuffle=True, random_state=seed).split(x, groups=groups))
    out = {}
    for name in ("language", "gender"):
        y = frame[name].astype(str).to_numpy()
        pred = np.empty_like(y)
        for tr, te in folds:
            clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
            pred[te] = clf.fit(x[tr], y[tr]).predict(x[te])
        out[name] = float(
            balanced_accuracy_score(y, pred) if name == "language" else np.mean(pred == y)
        )
    y = frame["face_size"].astype(float).to_numpy()
    pred = np.empty_like(y)
    for tr, te in folds:
        pred[te] = (
            make_pipeline(StandardScaler(), Ridge(alpha=10.0)).fit(x[tr], y[tr]).predict(x[te])
        )
    out["face_size_r2"] = float(r2_score(y, pred))
    return out


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def measure(run: Path, manifest: Path, train_manifest: Path, seed: int) -> dict[str, Any]:
    """All held-out measurements of one trained run."""
    from audit._evaluation import _retrieval_ranks

    enc = _encode(run, manifest)
    mean_feat = _encode_mean_face(run, train_manifest)
    true = enc["faces"][enc["face_index"]]
    cos = float(np.mean(np.sum(_unit(enc["pred"]) * _unit(true), 1)))
    cos_mean = float(np.mean(_unit(true) @ _unit(mean_feat[None])[0]))
    ranks, size = _retrieval_ranks(
        [_unit(enc["pred"])],
        _unit(enc["faces"]),
        enc["face_index"],
        100,
        np.random.default_rng(seed),
    )
    return {
        "probe_pred": _probes(enc["pred"], enc["frame"], seed),
        "probe_hidden": _probes(enc["hidden"], enc["frame"], seed),
        "probe_spectrum": _probes(enc["spectrum"], enc["frame"], seed),
        "cosine": cos,
        "cosine_mean_feature": cos_mean,
        "recall_at_1": float(np.mean(ranks[0] == 1)),
        "chance_at_1": 1.0 / size,
        "n_utterances": len(true),
        "n_speakers": int(enc["frame"]["speaker_id"].nunique()),
    }


def _encode_mean_face(run: Path, train_manifest: Path) -> np.ndarray:
    """Mean face feature over the training utterances (each utterance's face once)."""
    import torch

    from s2f_data import read_manifest
    from s2f_model import load_model
    from s2f_model._data import load_voice_face_data

    model = load_model(run).eval()
    cfg = model.cfg
    data = load_voice_face_data(
        read_manifest(train_manifest),
        "train",
        sample_rate=cfg.audio.sample_rate,
        clip_samples=16,
        image_size=cfg.face.image_size,
        progress=False,
    )
    with torch.no_grad():
        feats = torch.cat(
            [
                model.encode_face(
                    data.faces.batch(torch.arange(i, min(i + 64, len(data.faces))))["image"]
                )
                for i in range(0, len(data.faces), 64)
            ]
        )
    return feats[data.face_index].mean(0).numpy()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--eval", type=Path, required=True)
    parser.add_argument("--face-from", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--variants", default="paper,standardized_aux")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--voice-steps", type=int, default=250)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--measure-only", action="store_true", help="measure finished runs")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    jobs = [(v, int(s)) for v in args.variants.split(",") for s in args.seeds.split(",")]
    for v, _ in jobs:
        if v not in VARIANTS:
            raise SystemExit(f"unknown variant {v!r}; choose from {sorted(VARIANTS)}")
    runs = {(v, s): args.work / f"{v}-seed{s}-steps{args.voice_steps}" for v, s in jobs}
    todo = [(k, r) for k, r in runs.items() if not (r / "model.json").is_file()]
    if args.measure_only:
        runs = {k: r for k, r in runs.items() if (r / "model.json").is_file()}
        todo = []
    timings: dict[tuple[str, int], Any] = {}
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as pool:
        futures = {
            k: pool.submit(
                _train_one,
                _config(args.face_from, k[0], k[1], args.voice_steps),
                str(args.train),
                str(r),
                str(args.face_from),
            )
            for k, r in todo
        }
        for k, f in futures.items():
            timings[k] = f.result()
            print(f"trained {k}: {timings[k]}", flush=True)
    for k, run in runs.items():
        res = {
            "variant": k[0],
            "seed": k[1],
            "voice_steps": args.voice_steps,
            **timings.get(k, {}),
            **measure(run, args.eval, args.train, k[1]),
        }
        (run / "bench.json").write_text(json.dumps(res, indent=2))
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
