"""The demo pipeline: populations -> compact models -> audits -> report and comparison.

Every stage writes a marker ``.stage.json`` holding its settings when it finishes; a re-run
with the same settings skips finished stages, so an interrupted demo continues where it
stopped and a second run is fast. A stage's settings include the finished settings of the
stages it builds on (a voice run names its face side's, an audit its run's) and the sha256
of the shipped face side or judge it loads, so a changed upstream stage or a new shipped face
side or judge (a package upgrade) reruns everything downstream instead of reusing stale
results.
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

from audit import audit_model, paired_comparison, resolve_judge
from audit.judges import shipped_judge_sha256
from reports import render_comparison, render_report
from s2f_data import atomic_write_text
from s2f_data.biaslab import PopulationSpec, generate_population

__all__ = ["DemoSettings", "run_demo"]

log = logging.getLogger(__name__)

_MARKER = ".stage.json"
_STARTED = ".stage-started.json"


@dataclass(frozen=True, kw_only=True)
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
    min_group_size: int = 10
    workers: int = 2

    @classmethod
    def full(cls) -> DemoSettings:
        """Return the default settings (about 9 minutes on 2 idle CPU cores).

        The face side and the judge are shipped, so the time they took goes to the voice
        encoders: 600 steps instead of the compact preset's 250 (docs/benchmarks.md).
        """
        return cls(model_overrides={"train.voice_steps": 600})

    @classmethod
    def quick(cls) -> DemoSettings:
        """Return tiny settings for tests (about a minute): numbers are not meaningful."""
        return cls(
            train_speakers=48,
            train_utterances=2,
            eval_min_per_cell=3,
            eval_utterances=1,
            model_overrides={
                "train.voice_steps": 15,
                "train.checkpoint_every": 1000,
            },
            n_boot=100,
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


def _stage_begin(folder: Path, key: dict[str, Any], name: str) -> dict[str, Any] | None:
    """Prepare ``folder`` for a stage; return the normalised key, or None if already done.

    A folder started with the same key but not finished is left in place, so the stage can
    resume; a folder started or finished with another key is cleared first.
    """
    marker, started = folder / _MARKER, folder / _STARTED
    key = json.loads(json.dumps(key, sort_keys=True))  # normalise (tuples -> lists)
    if _read_key(marker) == key:
        log.info("%s: finished earlier, skipped (%s)", name, folder)
        return None
    if folder.exists() and _read_key(started) != key:
        log.info("%s: %s holds results of other settings; starting afresh", name, folder)
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    atomic_write_text(started, json.dumps(key, sort_keys=True))
    return key


def _stage_end(folder: Path, key: dict[str, Any], name: str, start: float | None) -> None:
    atomic_write_text(folder / _MARKER, json.dumps(key, sort_keys=True))
    if start is not None:
        log.info("%s: done in %.1f s", name, time.perf_counter() - start)


def _judge_key(seed: int) -> dict[str, Any]:
    """Name the judge an audit stage uses, so that a new shipped judge re-runs the audits.

    The shipped judge's SHA-256, or (a package without one) the seed of the judge the stage
    trains in its place.
    """
    sha = shipped_judge_sha256()
    if sha is not None:
        return {"shipped_judge_sha256": sha}
    return {"trained_judge_seed": seed}


def _stage(folder: Path, key: dict[str, Any], work: Callable[[], Any], name: str) -> bool:
    """Run ``work`` unless ``folder`` holds a marker with the same ``key``; return True if run."""
    ready = _stage_begin(folder, key, name)
    if ready is None:
        return False
    start = time.perf_counter()
    work()
    _stage_end(folder, ready, name, start)
    return True


def _population(
    out: Path, preset: str, kind: str, settings: DemoSettings, seed: int, progress: bool
) -> Path:
    spec = PopulationSpec.preset(preset)  # type: ignore[arg-type]
    utts = settings.train_utterances if kind == "train" else settings.eval_utterances
    spec = dataclasses.replace(spec, utterances_per_speaker=utts)
    key = {
        "stage": "population",
        "preset": preset,
        "kind": kind,
        "seed": seed,
        "speakers": settings.train_speakers,
        "utterances": utts,
        "min_per_cell": settings.eval_min_per_cell,
        "spec": spec.fingerprint(),
    }  # a changed preset (e.g. bilingual block) regenerates

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


def _train_config(settings: DemoSettings, seed: int, **overrides: Any) -> Any:
    from s2f_model import S2FConfig  # local: keeps torch out of `import s2f_cli`

    return S2FConfig.compact().replace(
        **{**settings.model_overrides, "train.seed": seed, **overrides}
    )


def _train_key(manifest: Path, cfg: Any, face_from: Path | None) -> dict[str, Any]:
    """Return the settings of a training stage (a voice run: with its face side's key)."""
    return {
        "stage": "train",
        "manifest": str(manifest),
        "config": cfg.to_dict(),
        "face_from": None if face_from is None else str(face_from),
        "face_from_key": None if face_from is None else _read_key(face_from / _MARKER),
    }


def _face_side_key(manifest: Path, cfg: Any) -> dict[str, Any]:
    """Return the settings of the face-side stage (shipped: with its weights' sha256)."""
    key = _train_key(manifest, cfg, None)
    if cfg.train.face_side == "pretrained":
        from s2f_model import shipped_card_path  # local: keeps torch out of the CLI import

        card = json.loads(shipped_card_path().read_text(encoding="utf-8"))
        key["shipped_face_side_sha256"] = card["sha256"]
    return key


def _train_face_side(
    out: Path, manifest: Path, settings: DemoSettings, seed: int, progress: bool
) -> Path:
    """Write the face side the voice runs share: the shipped pretrained one by default.

    With ``train.face_side="train"`` in the settings, the face encoder and decoder are
    trained on ``manifest`` instead (no voice steps), as in the paper's recipe for data
    without published face weights.
    """
    from s2f_model import train, write_face_side_run  # local: keeps torch out of the CLI import

    cfg = _train_config(settings, seed, **{"train.voice_steps": 0})

    def work() -> None:
        if cfg.train.face_side == "pretrained":
            write_face_side_run(out, cfg)
            return
        resume = (out / "checkpoint.json").is_file()
        train(cfg, manifest, out, resume=resume, progress=progress)

    _stage(out, _face_side_key(manifest, cfg), work, f"train {out.name}")
    return out


def _train_voice_in_child(
    cfg_dict: dict[str, Any], manifest: str, out: str, face_from: str
) -> None:
    """Train one voice encoder in a spawned process with one torch thread."""
    import torch

    from s2f_model import S2FConfig, train  # local: keeps torch out of `import s2f_cli`

    torch.set_num_threads(1)
    resume = (Path(out) / "checkpoint.json").is_file()
    train(
        S2FConfig.from_dict(cfg_dict),
        manifest,
        out,
        resume=resume,
        progress=False,
        face_from=face_from,
    )


def _train_voices(
    runs: dict[str, tuple[Path, Path]],
    face_side: Path,
    settings: DemoSettings,
    seed: int,
    seeds: dict[str, int] | None = None,
) -> None:
    """Train the voice encoders of ``runs`` (name -> (run folder, manifest)) side by side.

    Each reuses the face side and runs in its own process with one thread: on 2 cores two
    single-threaded trainings finish sooner than two two-threaded ones in turn (small
    convolutions gain only ~1.4x from a second thread). Each run is its own stage; ``seeds``
    gives a run its own training seed (default ``seed``). At most ``settings.workers``
    (at least 2) run at once.
    """
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    pending = []
    for name, (out, manifest) in runs.items():
        cfg = _train_config(settings, (seeds or {}).get(name, seed))
        key = _stage_begin(out, _train_key(manifest, cfg, face_side), f"train {name}")
        if key is not None:
            pending.append((name, out, manifest, key, cfg))
    if not pending:
        return
    start = time.perf_counter()
    workers = min(len(pending), max(2, settings.workers))
    # spawn, not fork: this process already runs torch's thread pools
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = {
            pool.submit(
                _train_voice_in_child, cfg.to_dict(), str(manifest), str(out), str(face_side)
            ): (name, out, key)
            for name, out, manifest, key, cfg in pending
        }
        for future, (name, out, key) in futures.items():
            future.result()  # re-raises a failed training here
            _stage_end(out, key, f"train {name}", None)
    names = ", ".join(name for name, *_ in pending)
    log.info(
        "train voice encoders (%s; side by side): done in %.1f s",
        names,
        time.perf_counter() - start,
    )


def _audit(
    out: Path,
    run: Path,
    manifest: Path,
    judge_dir: Path,
    settings: DemoSettings,
    seed: int,
    progress: bool,
    voice_measures_from: Path | None = None,
) -> Path:
    key = {
        "stage": "audit",
        "run": str(run),
        "run_key": _read_key(run / _MARKER),
        "manifest": str(manifest),
        "seed": seed,
        "n_boot": settings.n_boot,
        "min_group_size": settings.min_group_size,
        "input_seconds": "none",
        "voice_measures_from": None if voice_measures_from is None else str(voice_measures_from),
        "judge": _judge_key(seed),
    }

    def work() -> None:
        judge, _ = resolve_judge("auto", source="biaslab", cache_dir=judge_dir, seed=seed)
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
            + (
                ""
                if voice_measures_from is None
                else f" --voice-measures-from {voice_measures_from}"
            ),
            progress=progress,
            # the bias lab's utterances are one clip (3 s) long: a 6 s input would only
            # loop the same speech, so the input-length comparison is left out
            input_seconds="none",
            voice_measures_from=voice_measures_from,
        )

    _stage(out, key, work, f"audit {out.name}")
    return out / "audit.json"


def _audit_arms(
    out: Path,
    arms: dict[str, list[str]],
    runs: dict[str, tuple[Path, Path]],
    eval_manifest: Path,
    settings: DemoSettings,
    seed: int,
    progress: bool,
    paths: dict[str, Path],
) -> dict[str, list[Path]]:
    """Audit every run of every arm on the evaluation rows; return each arm's audit folders.

    Adds the first audit and run of each arm (``audit_<preset>``, ``run_<preset>``) and the
    web-skewed ``report`` to ``paths``. Later audits reuse the first one's voice measures.
    """
    judge_dir = out / "judge"
    audits: dict[str, list[Path]] = {p: [] for p in arms}
    for preset in arms:
        for name in arms[preset]:
            earlier = paths.get("audit_web-skewed")  # same evaluation rows: same voice measures
            audits[preset].append(
                _audit(
                    out / "audits" / name,
                    runs[name][0],
                    eval_manifest,
                    judge_dir,
                    settings,
                    seed,
                    progress,
                    None if earlier is None else earlier.parent,
                )
            )
            paths.setdefault(f"audit_{preset}", audits[preset][0])
            paths.setdefault(f"run_{preset}", runs[name][0])
            if preset == "web-skewed" and "report" not in paths:
                paths["report"] = render_report(paths["audit_web-skewed"], out / "report.html")
    return audits


def _compare_arms(audits: dict[str, list[Path]], several: bool, html: Path) -> Path:
    """Render the web-skewed (A) versus representative (B) comparison page and return it.

    With ``several`` seeds per arm the arms' audit lists are compared, else their one audit.
    """
    side_a = audits["web-skewed"] if several else audits["web-skewed"][0]
    side_b = audits["representative"] if several else audits["representative"][0]
    return render_comparison(
        side_a,
        side_b,
        html,
        comparison=paired_comparison(side_a, side_b),  # audit computes, reports renders
        # with several seeds each audit is named after its seed folder: name the arms instead
        title="Comparison: web-skewed (A) versus representative (B)" if several else None,
    )


def run_demo(
    out_dir: str | Path,
    *,
    quick: bool = False,
    seed: int = 0,
    progress: bool = True,
    seeds: int = 1,
) -> dict[str, Path]:
    """Run the whole demo and return the paths of what it wrote.

    1. a ``representative`` evaluation population and ``web-skewed`` and ``representative``
       training populations (disjoint speakers);
    2. the compact model's face side (encoder + decoder) trained on the web-skewed faces and
       kept fixed, as in the paper;
    3. two voice encoders on top of it, one per training population, trained side by side;
    4. the web-skewed model's audit on the evaluation population, and ``report.html``;
    5. the representative model's audit on the same evaluation rows, and ``compare.html``.

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
    seeds : int
        Voice encoders per training population, trained with seeds ``seed``, ``seed + 1``,
        ... on the shared face side: with more than one, ``compare.html`` compares the two
        arms of seeds (their means, with intervals that include training noise).

    Returns
    -------
    dict of str to pathlib.Path
        ``report``, ``compare``, ``audit_skewed``, ``audit_representative``, ...
    """
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds must be a positive integer, got {seeds!r}")
    settings = DemoSettings.quick() if quick else DemoSettings.full()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "demo_settings.json", json.dumps(settings.to_dict(), indent=2))
    pops = out / "populations"
    eval_manifest = _population(pops / "eval", "representative", "eval", settings, seed, progress)
    paths: dict[str, Path] = {"eval_manifest": eval_manifest}
    presets = ("web-skewed", "representative")
    manifests = {
        p: _population(pops / f"train-{p}", p, "train", settings, seed, progress) for p in presets
    }
    # As in the paper, the face side (encoder + decoder) is trained once, on the web-skewed
    # faces, and kept fixed; both models train only their voice encoder on top of it.
    face_side = _train_face_side(
        out / "runs" / "face-side", manifests["web-skewed"], settings, seed, progress
    )
    # one seed: runs/<preset>; several: runs/<preset>/seed-<i> trained with seed + i
    arms = {p: _seed_names(p, seeds) for p in presets}
    runs = {name: (out / "runs" / name, manifests[p]) for p in presets for name in arms[p]}
    _train_voices(
        runs,
        face_side,
        settings,
        seed,
        {name: seed + i for p in presets for i, name in enumerate(arms[p])},
    )
    audits = _audit_arms(out, arms, runs, eval_manifest, settings, seed, progress, paths)
    paths["face_side"] = face_side
    paths["compare"] = _compare_arms(audits, seeds > 1, out / "compare.html")
    return paths


def _seed_names(preset: str, seeds: int) -> list[str]:
    """Run names of one arm: the preset itself, or ``preset/seed-i`` for several seeds."""
    return [preset] if seeds == 1 else [f"{preset}/seed-{i}" for i in range(seeds)]
