"""The demo pipeline: populations -> compact models -> audits -> report and comparison.

Every stage writes a marker ``.stage.json`` holding its settings when it finishes; a re-run
with the same settings skips finished stages, so an interrupted demo continues where it
stopped and a second run is fast.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s2f_data import atomic_write_text

__all__ = ["DemoSettings", "run_demo"]

log = logging.getLogger(__name__)

_MARKER = ".stage.json"
_STARTED = ".stage-started.json"


@dataclass(frozen=True)
class DemoSettings:
    """Sizes of the demo run.

    Parameters
    ----------
    train_speakers : int
        Speakers of each training population.
    train_utterances : int
        Utterances per training speaker.
    eval_min_per_cell : int
        Speakers per language x ethnicity cell of the evaluation population.
    eval_utterances : int
        Utterances per evaluation speaker.
    model_overrides : dict
        Dotted overrides of the compact model preset (steps, batch size, ...).
    n_boot : int
        Bootstrap replicates of the audit.
    judge_faces : int
        Rendered faces the bias-lab judge trains on.
    min_group_size : int
        Speakers below which a group is flagged as insufficient data.
    workers : int
        Processes for population generation.
    """

    train_speakers: int = 400
    train_utterances: int = 5
    eval_min_per_cell: int = 20
    eval_utterances: int = 3
    model_overrides: dict[str, Any] = field(default_factory=dict)
    n_boot: int = 1000
    judge_faces: int = 2048
    min_group_size: int = 10
    workers: int = 2

    @classmethod
    def full(cls) -> DemoSettings:
        """Return the default settings (about 10 minutes on 2 CPU cores)."""
        return cls()

    @classmethod
    def quick(cls) -> DemoSettings:
        """Return tiny settings for tests (about a minute): numbers are not meaningful."""
        return cls(
            train_speakers=48,
            train_utterances=2,
            eval_min_per_cell=3,
            eval_utterances=1,
            model_overrides={
                "train.face_steps": 15,
                "train.voice_steps": 15,
                "train.checkpoint_every": 1000,
            },
            n_boot=100,
            judge_faces=320,
            min_group_size=3,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings."""
        return dataclasses.asdict(self)


def _read_key(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _stage(folder: Path, key: dict[str, Any], work: Callable[[], Any], name: str) -> bool:
    """Run ``work`` unless ``folder`` holds a marker with the same ``key``; return True if run.

    A folder started with the same key but not finished is left in place, so the stage can
    resume; a folder started or finished with another key is cleared first.
    """
    marker, started = folder / _MARKER, folder / _STARTED
    key = json.loads(json.dumps(key, sort_keys=True))  # normalise (tuples -> lists)
    if _read_key(marker) == key:
        log.info("%s: finished earlier, skipped (%s)", name, folder)
        return False
    if folder.exists() and _read_key(started) != key:
        log.info("%s: %s holds results of other settings; starting afresh", name, folder)
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    atomic_write_text(started, json.dumps(key, sort_keys=True))
    start = time.perf_counter()
    work()
    atomic_write_text(marker, json.dumps(key, sort_keys=True))
    log.info("%s: done in %.1f s", name, time.perf_counter() - start)
    return True


def _population(
    out: Path, preset: str, kind: str, settings: DemoSettings, seed: int, progress: bool
) -> Path:
    from s2f_data.biaslab import PopulationSpec, generate_population

    spec = PopulationSpec.preset(preset)  # type: ignore[arg-type]
    utts = settings.train_utterances if kind == "train" else settings.eval_utterances
    spec = dataclasses.replace(spec, utterances_per_speaker=utts)
    key = {"stage": "population", "preset": preset, "kind": kind, "seed": seed,
           "speakers": settings.train_speakers, "utterances": utts,
           "min_per_cell": settings.eval_min_per_cell}

    def work() -> None:
        generate_population(
            spec,
            out,
            seed=seed,
            n_speakers=settings.train_speakers if kind == "train" else None,
            kind=kind,  # type: ignore[arg-type]
            min_per_cell=settings.eval_min_per_cell,
            workers=settings.workers,
            progress=progress,
        )

    _stage(out, key, work, f"population {preset} ({kind})")
    return out / "manifest.csv"


def _train(
    out: Path,
    manifest: Path,
    settings: DemoSettings,
    seed: int,
    progress: bool,
    face_from: Path | None = None,
) -> Path:
    from s2f_model import S2FConfig, train

    cfg = S2FConfig.compact().replace(**{**settings.model_overrides, "train.seed": seed})
    key = {"stage": "train", "manifest": str(manifest), "config": cfg.to_dict(),
           "face_from": None if face_from is None else str(face_from)}

    def work() -> None:
        resume = (out / "checkpoint.json").is_file()
        train(cfg, manifest, out, resume=resume, progress=progress, face_from=face_from)

    _stage(out, key, work, f"train {out.name}")
    return out


def _audit(
    out: Path, run: Path, manifest: Path, judge_dir: Path, settings: DemoSettings, seed: int,
    progress: bool, voice_measures_from: Path | None = None,
) -> Path:
    from audit._run import audit_model, resolve_judge

    key = {"stage": "audit", "run": str(run), "manifest": str(manifest), "seed": seed,
           "n_boot": settings.n_boot, "min_group_size": settings.min_group_size,
           "input_seconds": "none",
           "voice_measures_from": None if voice_measures_from is None else str(
               voice_measures_from)}

    def work() -> None:
        judge, _ = resolve_judge(
            "auto", source="biaslab", cache_dir=judge_dir, seed=seed, n_faces=settings.judge_faces
        )
        audit_model(
            run,
            manifest,
            out,
            judge=judge,
            n_boot=settings.n_boot,
            min_group_size=settings.min_group_size,
            seed=seed,
            command=f"s2f-audit audit --checkpoint {run} --manifest {manifest} --out {out} "
            f"--seed {seed} --n-boot {settings.n_boot} --min-group-size {settings.min_group_size}"
            " --input-seconds none"
            + ("" if voice_measures_from is None
               else f" --voice-measures-from {voice_measures_from}"),
            progress=progress,
            # the bias lab's utterances are one clip (3 s) long: a 6 s input would only
            # loop the same speech, so the input-length comparison is left out
            input_seconds="none",
            voice_measures_from=voice_measures_from,
        )

    _stage(out, key, work, f"audit {out.name}")
    return out / "audit.json"


def run_demo(
    out_dir: str | Path, *, quick: bool = False, seed: int = 0, progress: bool = True
) -> dict[str, Path]:
    """Run the whole demo and return the paths of what it wrote.

    1. a ``web-skewed`` training population and a ``representative`` evaluation population
       (disjoint speakers);
    2. the compact model trained on the first (face side, then voice encoder);
    3. its audit on the evaluation population, and ``report.html``;
    4. the same model trained on a ``representative`` training population, audited on the same
       evaluation rows, and ``compare.html``.

    Parameters
    ----------
    out_dir : path-like
        Output folder; finished stages found there are skipped.
    quick : bool
        Tiny settings (about a minute): for tests; the numbers mean nothing.
    seed : int
        Seed of every stage.
    progress : bool
        Progress bars.

    Returns
    -------
    dict of str to pathlib.Path
        ``report``, ``compare``, ``audit_skewed``, ``audit_representative``, ...
    """
    from reports import render_comparison, render_report

    settings = DemoSettings.quick() if quick else DemoSettings.full()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "demo_settings.json", json.dumps(settings.to_dict(), indent=2))
    pops = out / "populations"
    eval_manifest = _population(pops / "eval", "representative", "eval", settings, seed, progress)
    judge_dir = out / "judge"
    paths: dict[str, Path] = {"eval_manifest": eval_manifest}
    for preset in ("web-skewed", "representative"):
        manifest = _population(pops / f"train-{preset}", preset, "train", settings, seed, progress)
        # As in the paper, the face side (encoder + decoder) is trained once and kept fixed:
        # the retrained model reuses it and retrains only the voice encoder.
        face_from = paths.get("run_web-skewed")
        run = _train(out / "runs" / preset, manifest, settings, seed, progress, face_from)
        earlier = paths.get("audit_web-skewed")  # same evaluation rows: same voice measures
        paths[f"audit_{preset}"] = _audit(
            out / "audits" / preset, run, eval_manifest, judge_dir, settings, seed, progress,
            None if earlier is None else earlier.parent,
        )
        paths[f"run_{preset}"] = run
        if preset == "web-skewed":
            paths["report"] = render_report(paths["audit_web-skewed"], out / "report.html")
    paths["compare"] = render_comparison(
        paths["audit_web-skewed"], paths["audit_representative"], out / "compare.html"
    )
    return paths
