"""Generate a population: speaker table -> faces, landmarks, voices -> manifest and data card.

Output layout of ``out_dir``::

    manifest.csv, manifest.json     one row per utterance (s2f_data manifest format)
    speakers.csv                    one row per speaker, with every voice parameter
    data_card.md, data_card.json    composition tables (speakers and utterances per group)
    population.json                 what was generated (spec fingerprint, seed, draw kind)
    audio/<speaker>/<utterance>.wav 16 kHz mono PCM16
    faces/<speaker>.png             RGB face, face_size_px square
    landmarks/<speaker>.npy         float32 (68, 2), normalised to [0, 1]
    done/<speaker>.json             per-speaker record; present = that speaker is finished

Randomness: every speaker has its own streams derived from ``(seed, draw kind, speaker
index)`` with :class:`numpy.random.SeedSequence`, so results do not depend on the number of
workers or the order in which they finish, and the first speakers of a larger draw are the same
people as in a smaller one. Files carry no dates (WAV headers written by :mod:`wave`, PNGs
without metadata), so the same seed gives byte-identical files.
"""

from __future__ import annotations

import io
import json
import logging
import os
import wave
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from s2f_data._atomic import atomic_write_bytes, atomic_write_text
from s2f_data._manifest import ManifestInfo, write_manifest
from s2f_data.biaslab._accent import ACCENTS
from s2f_data.biaslab._bilingual import (
    bilingual_english_accent,
    utterance_voices,
    voice_in_language,
)
from s2f_data.biaslab._datacard import data_card
from s2f_data.biaslab._espeak import _engine, run_isolated
from s2f_data.biaslab._spec import ETHNICITIES, MAX_SPEAKERS, PopulationSpec
from s2f_data.biaslab._text import LANGUAGES
from s2f_data.biaslab._voice import (
    AGE_GROUPS,
    GENDERS,
    SAMPLE_RATE,
    sample_voice,
    synthesize_utterance,
)
from s2f_data.biaslab.faces import render_face, sample_face_params

__all__ = [
    "GENERATOR_VERSION",
    "PopulationResult",
    "evaluation_cells",
    "generate_population",
    "sample_speakers",
]

logger = logging.getLogger(__name__)

#: Version of the generator; recorded in the manifest sidecar.
GENERATOR_VERSION = "biaslab-1"
_KIND_CODE = {"train": 1, "eval": 2}
_STREAM_DEMOGRAPHICS, _STREAM_VOICE, _STREAM_FACE, _STREAM_UTTERANCE = 0, 1, 2, 3
_SPLIT_STREAM = 99


@dataclass(frozen=True, kw_only=True)
class PopulationResult:
    """What :func:`generate_population` wrote.

    Parameters
    ----------
    manifest_path : pathlib.Path
        ``out_dir/manifest.csv``.
    speakers : pandas.DataFrame
        One row per speaker (labels, split, voice parameters).
    n_generated, n_skipped : int
        Speakers synthesized now, and speakers found finished from an earlier run.
    """

    manifest_path: Path
    speakers: pd.DataFrame
    n_generated: int
    n_skipped: int


def _rng(seed: int, kind: str, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, _KIND_CODE[kind], *keys]))


def _choice(rng: np.random.Generator, table: dict[str, float]) -> str:
    labels = list(table)
    probs = np.asarray([table[k] for k in labels], dtype=float)
    return labels[int(rng.choice(len(labels), p=probs / probs.sum()))]


def evaluation_cells(spec: PopulationSpec) -> list[tuple[str, str]]:
    """Language x ethnicity cells that an evaluation draw fills.

    English with every ethnicity of the spec, plus every other language the spec uses with its
    main ethnicity (the one contributing most speakers of that language).

    Parameters
    ----------
    spec : PopulationSpec
        The population whose vocabularies are used.

    Returns
    -------
    list of (language, ethnicity)
        In a fixed order.

    Examples
    --------
    >>> evaluation_cells(PopulationSpec.preset("representative"))[:2]
    [('en', 'Asian'), ('en', 'Black')]
    """
    cells = [("en", eth) for eth in ETHNICITIES if eth in spec.ethnicity]
    for lang in LANGUAGES:
        if lang == "en":
            continue
        mass = {
            eth: spec.ethnicity[eth] * spec.language.get(eth, {}).get(lang, 0.0)
            for eth in ETHNICITIES
            if eth in spec.ethnicity
        }
        if max(mass.values(), default=0.0) > 0:
            cells.append((lang, max(mass, key=lambda e: (mass[e], e))))
    return cells


def _speaker_record(
    spec: PopulationSpec,
    seed: int,
    kind: str,
    index: int,
    labels: dict[str, str],
    prefix: str,
    bilingual: bool = False,
) -> dict[str, Any]:
    rng = _rng(seed, kind, index, _STREAM_DEMOGRAPHICS)
    face_size = float(rng.normal())
    voice = sample_voice(
        _rng(seed, kind, index, _STREAM_VOICE),
        language=labels["language"],
        accent=labels["accent"],
        gender=labels["gender"],
        age_group=labels["age_group"],
        face_size=face_size,
    )
    record = {
        "speaker_id": f"{prefix}{index:05d}",
        "index": index,
        **labels,
        "face_size": round(face_size, 6),
        **{f"voice_{k}": v for k, v in voice.to_dict().items()},
    }
    if not spec.bilingual:
        return record
    record.update(first_language=labels["language"], bilingual=bilingual)
    if bilingual:
        en_accent = bilingual_english_accent(
            labels["language"],
            spec.accent_table("en", labels["ethnicity"]),
            _rng(seed, kind, index, _STREAM_DEMOGRAPHICS, 3),
        )
        english = voice_in_language(
            voice, language="en", accent=en_accent, rng=_rng(seed, kind, index, _STREAM_VOICE, 1)
        )
        record.update({f"voice2_{k}": v for k, v in english.to_dict().items()})
    return record


def _train_speakers(
    spec: PopulationSpec, seed: int, n_speakers: int | None, prefix: str
) -> pd.DataFrame:
    """Speaker table of a training draw, split by speaker (see :func:`sample_speakers`)."""
    kind = "train"
    rows = []
    n = spec.speakers if n_speakers is None else n_speakers
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 1 <= n <= MAX_SPEAKERS:
        raise ValueError(f"n_speakers must be an integer in [1, {MAX_SPEAKERS:,}], got {n!r}")
    for i in range(int(n)):
        rng = _rng(seed, kind, i, _STREAM_DEMOGRAPHICS, 1)
        eth = _choice(rng, spec.ethnicity)
        labels = {
            "ethnicity": eth,
            "language": _choice(rng, spec.language[eth]),
            "gender": _choice(rng, spec.gender),
            "age_group": _choice(rng, spec.age_group),
        }
        labels["accent"] = _choice(rng, spec.accent_table(labels["language"], eth))
        two = labels["language"] != "en" and float(
            _rng(seed, kind, i, _STREAM_DEMOGRAPHICS, 2).random()
        ) < spec.bilingual.get("share", 0.0)
        rows.append(_speaker_record(spec, seed, kind, i, labels, prefix, bilingual=two))
    table = pd.DataFrame(rows)
    table.insert(1, "split", _assign_splits(spec, table, seed))
    return table


def _eval_speakers(spec: PopulationSpec, seed: int, min_per_cell: int, prefix: str) -> pd.DataFrame:
    """Speaker table of an evaluation draw, all in ``test`` (see :func:`sample_speakers`)."""
    kind = "eval"
    rows = []
    if isinstance(min_per_cell, bool) or not isinstance(min_per_cell, int) or min_per_cell < 1:
        raise ValueError(f"min_per_cell must be a positive integer, got {min_per_cell!r}")
    n_cells = len(evaluation_cells(spec)) + len(spec.bilingual_cells())
    if min_per_cell * n_cells > MAX_SPEAKERS:
        raise ValueError(
            f"min_per_cell {min_per_cell:,} x {n_cells} cells is more than {MAX_SPEAKERS:,} "
            f"speakers; at most {MAX_SPEAKERS // n_cells:,} per cell"
        )
    i = 0
    genders = [g for g in GENDERS if spec.gender.get(g, 0) > 0]
    ages = [a for a in AGE_GROUPS if spec.age_group.get(a, 0) > 0]
    for lang, eth in evaluation_cells(spec):
        for j in range(min_per_cell):
            labels = {
                "ethnicity": eth,
                "language": lang,
                "gender": genders[j % len(genders)],
                "age_group": ages[(j // len(genders)) % len(ages)],
            }
            rng = _rng(seed, kind, i, _STREAM_DEMOGRAPHICS, 1)
            labels["accent"] = _choice(rng, spec.accent_table(lang, eth))
            rows.append(_speaker_record(spec, seed, kind, i, labels, prefix))
            i += 1
    for eth, lang in spec.bilingual_cells():  # the counterfactual block, after the cells
        for j in range(min_per_cell):
            labels = {
                "ethnicity": eth,
                "language": lang,
                "accent": "native",
                "gender": genders[j % len(genders)],
                "age_group": ages[(j // len(genders)) % len(ages)],
            }
            rows.append(_speaker_record(spec, seed, kind, i, labels, prefix, bilingual=True))
            i += 1
    table = pd.DataFrame(rows)
    table.insert(1, "split", "test")
    return table


def sample_speakers(
    spec: PopulationSpec,
    *,
    seed: int | None = None,
    n_speakers: int | None = None,
    kind: Literal["train", "eval"] = "train",
    min_per_cell: int = 20,
) -> pd.DataFrame:
    """Draw the speaker table of a population (no audio, no images).

    Parameters
    ----------
    spec : PopulationSpec
        Distributions and sizes.
    seed : int or None
        Seed; ``None`` uses ``spec.seed``.
    n_speakers : int or None
        Speakers of a training draw; ``None`` uses ``spec.speakers``. Ignored for ``eval``.
    kind : {"train", "eval"}
        ``train`` draws from the spec's distributions and splits by speaker (holdout
        combinations go to ``test``). ``eval`` draws ``min_per_cell`` speakers for each cell
        of :func:`evaluation_cells`, with gender and age group balanced within the cell, all in
        split ``test``. Speaker ids start with ``tr<seed>-`` or ``ev<seed>-``, so draws never
        share ids.
    min_per_cell : int
        Speakers per cell of an evaluation draw.

    Returns
    -------
    pandas.DataFrame
        One row per speaker: ``speaker_id``, ``split``, the demographic labels, ``face_size``
        and ``voice_*`` parameters.

    Examples
    --------
    >>> t = sample_speakers(PopulationSpec.preset("web-skewed"), seed=1, n_speakers=50)
    >>> len(t), t["speaker_id"].iloc[0]
    (50, 'tr1-00000')
    """
    if kind not in _KIND_CODE:
        raise ValueError(f"kind must be one of {sorted(_KIND_CODE)}, got {kind!r}")
    seed = spec.seed if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    prefix = f"{'tr' if kind == 'train' else 'ev'}{seed}-"
    if kind == "train":
        table = _train_speakers(spec, seed, n_speakers, prefix)
    else:
        table = _eval_speakers(spec, seed, min_per_cell, prefix)
    return table.drop(columns="index")


def _assign_splits(spec: PopulationSpec, table: pd.DataFrame, seed: int) -> list[str]:
    held = np.array([spec.is_held_out(row) for row in table.to_dict("records")], dtype=bool)
    free = np.flatnonzero(~held)
    order = _rng(seed, "train", _SPLIT_STREAM).permutation(free)
    n_train = round(spec.split["train"] * len(free))
    n_val = round(spec.split["val"] * len(free))
    split = np.full(len(table), "test", dtype=object)
    split[order[:n_train]] = "train"
    split[order[n_train : n_train + n_val]] = "val"
    return list(split)


def _wav_bytes(wave_f32: np.ndarray, sample_rate: int) -> bytes:
    pcm = np.round(np.clip(wave_f32, -1.0, 1.0) * 32767.0).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(sample_rate)
        fh.writeframes(pcm.tobytes())
    return buf.getvalue()


def _png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image, mode="RGB").save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)
    return buf.getvalue()


def _make_speaker(job: dict[str, Any]) -> dict[str, Any]:
    """Generate one speaker unless already done; return its record (runs in a worker)."""
    done = Path(job["out_dir"]) / "done" / f"{job['speaker']['speaker_id']}.json"
    if done.is_file():
        record = json.loads(done.read_text(encoding="utf-8"))
        if record.get("fingerprint") == job["fingerprint"]:
            record["skipped"] = True
            return record
    # A fresh child per speaker: libespeak-ng keeps state between calls, so each speaker
    # starts from the same synthesizer state whatever the worker synthesized before.
    record = run_isolated(_make_speaker_files, job)
    record["skipped"] = False
    return record


def _make_speaker_files(job: dict[str, Any]) -> dict[str, Any]:
    """Render one speaker's face and utterances and write them; return the record."""
    out = Path(job["out_dir"])
    spk = job["speaker"]
    sid = spk["speaker_id"]
    seed, kind, index = job["seed"], job["kind"], job["index"]
    params = sample_face_params(
        _rng(seed, kind, index, _STREAM_FACE),
        ethnicity=spk["ethnicity"],
        gender=spk["gender"],
        age_group=spk["age_group"],
        face_size=spk["face_size"],
    )
    image, landmarks = render_face(params, size=job["face_size_px"])
    face_rel = f"faces/{sid}.png"
    lm_rel = f"landmarks/{sid}.npy"
    atomic_write_bytes(out / face_rel, _png_bytes(image))
    atomic_write_bytes(out / lm_rel, _npy_bytes(landmarks))
    utterances = []
    voices = utterance_voices(spk, job["utterances"], job["utterances_per_language"])
    for j, profile in enumerate(voices):
        utt = synthesize_utterance(
            profile,
            _rng(seed, kind, index, _STREAM_UTTERANCE, j),
            clip_seconds=job["clip_seconds"],
            isolated=False,
        )
        uid = f"{sid}-{j:03d}"
        rel = f"audio/{sid}/{uid}.wav"
        atomic_write_bytes(out / rel, _wav_bytes(utt.wave, utt.sample_rate))
        utterances.append(
            {
                "utterance_id": uid,
                "audio_path": rel,
                "text": utt.text,
                "language": profile.language,
                "accent": profile.accent,
                "voice": profile.voice,
            }
        )
    record = {
        "fingerprint": job["fingerprint"],
        "speaker_id": sid,
        "face_path": face_rel,
        "landmarks_path": lm_rel,
        "utterances": utterances,
    }
    atomic_write_text(
        out / "done" / f"{sid}.json", json.dumps(record, ensure_ascii=False, indent=1) + "\n"
    )
    return record


def _run_jobs(
    jobs: list[dict[str, Any]], workers: int, progress: bool, total_utts: int
) -> Iterable[dict[str, Any]]:
    from tqdm.auto import tqdm

    bar = tqdm(total=total_utts, unit="utt", desc="bias lab", disable=not progress)
    try:
        if workers <= 1 or len(jobs) <= 1:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(1):  # as in a worker: same speed, caller's pools restored
                for job in jobs:
                    rec = _make_speaker(job)
                    bar.update(len(rec["utterances"]))
                    yield rec
            return
        # fork: workers need only numpy, PIL and libespeak-ng, and fork needs no
        # ``if __name__ == "__main__"`` guard in the caller's script (spawn does).
        method = "fork" if "fork" in get_all_start_methods() else "spawn"
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=get_context(method), initializer=_worker_init
        ) as pool:
            for rec in pool.map(_make_speaker, jobs, chunksize=1):
                bar.update(len(rec["utterances"]))
                yield rec
    finally:
        bar.close()


def _worker_init() -> None:
    # One BLAS/OpenMP thread per worker: the processes are the parallelism. The workers are
    # forked after NumPy loaded its BLAS, so environment variables come too late; set the
    # live thread pools instead (the per-speaker children inherit the setting). With the
    # caller's 2 BLAS threads in each of 2 workers, generation ran at half speed.
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    # Initialise libespeak-ng once here, before any synthesis: every per-speaker child forked
    # from this worker then starts from the same freshly initialised engine (as if it had
    # initialised its own) without paying the ~0.1 s of loading the voice data again.
    _engine()


def _vocabularies(spec: PopulationSpec) -> dict[str, tuple[str, ...]]:
    accents = sorted({a for lang in LANGUAGES for a in ACCENTS[lang]})
    return {
        "gender": GENDERS,
        "age_group": AGE_GROUPS,
        "ethnicity": ETHNICITIES,
        "language": LANGUAGES,
        "accent": tuple(accents),
    }


def _identity(
    spec: PopulationSpec, seed: int, kind: str, n_speakers: int, min_per_cell: int
) -> dict[str, Any]:
    """Return what identifies a draw in its folder (see :func:`_claim_folder`)."""
    return {
        "generator": GENERATOR_VERSION,
        "spec": spec.fingerprint(),
        "seed": seed,
        "kind": kind,
        "n_speakers": n_speakers,
        "min_per_cell": min_per_cell if kind == "eval" else None,
    }


def _count_utterances(jobs: list[dict[str, Any]]) -> int:
    """Return the utterances the jobs render (both languages of a bilingual speaker)."""
    return sum(
        2 * j["utterances_per_language"] if j["speaker"].get("bilingual") else j["utterances"]
        for j in jobs
    )


def _write_outputs(
    out: Path,
    spec: PopulationSpec,
    speakers: pd.DataFrame,
    frame: pd.DataFrame,
    seed: int,
    kind: str,
) -> Path:
    """Write speakers.csv, the data card (md, json) and the manifest; return its path."""
    info = ManifestInfo(
        source="biaslab",
        source_version=GENERATOR_VERSION,
        vocabularies=_vocabularies(spec),
        extra={
            "spec": spec.to_dict(),
            "seed": seed,
            "kind": kind,
            "sample_rate": SAMPLE_RATE,
            "speakers_table": "speakers.csv",
            "data_card": "data_card.md",
            "note": "synthetic population: a simulation, not a claim about people",
        },
    )
    speakers_csv = speakers.to_csv(index=False, lineterminator="\n", float_format="%.6g")
    atomic_write_text(out / "speakers.csv", speakers_csv)
    card_md, card_json = data_card(spec, speakers, frame, seed=seed, kind=kind)
    atomic_write_text(out / "data_card.md", card_md)
    atomic_write_text(out / "data_card.json", json.dumps(card_json, indent=2) + "\n")
    return write_manifest(frame, out / "manifest.csv", info)


def generate_population(
    spec: PopulationSpec,
    out_dir: str | os.PathLike[str],
    *,
    seed: int | None = None,
    n_speakers: int | None = None,
    kind: Literal["train", "eval"] = "train",
    min_per_cell: int = 20,
    workers: int = 2,
    progress: bool = True,
) -> PopulationResult:
    """Generate a population into ``out_dir``: audio, faces, landmarks, manifest, data card.

    Re-running into a folder generated with the same spec, seed and draw skips every finished
    speaker; a folder holding a different population is refused. Every file is written
    atomically.

    Parameters
    ----------
    spec : PopulationSpec
        The population (:meth:`PopulationSpec.preset` or :func:`load_spec`).
    out_dir : path-like
        Output folder (created).
    seed : int or None
        Seed; ``None`` uses ``spec.seed``. The same seed gives byte-identical files.
    n_speakers : int or None
        Override ``spec.speakers`` (training draws).
    kind : {"train", "eval"}
        Training draw or evaluation draw (see :func:`sample_speakers`).
    min_per_cell : int
        Speakers per language x ethnicity cell of an evaluation draw.
    workers : int
        Processes (1 = in this process).
    progress : bool
        Show a tqdm progress bar (utterances).

    Returns
    -------
    PopulationResult

    Examples
    --------
    >>> import tempfile
    >>> res = generate_population(PopulationSpec.preset("representative"), tempfile.mkdtemp(),
    ...                           seed=3, n_speakers=2, workers=1, progress=False)
    >>> res.manifest_path.name, len(res.speakers)
    ('manifest.csv', 2)
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    out = Path(out_dir)
    seed = spec.seed if seed is None else seed
    speakers = sample_speakers(
        spec, seed=seed, n_speakers=n_speakers, kind=kind, min_per_cell=min_per_cell
    )
    identity = _identity(spec, int(seed), kind, len(speakers), min_per_cell)
    _claim_folder(out, identity)
    records = speakers.to_dict("records")
    jobs = _speaker_jobs(records, spec, out, identity)
    n_utts = _count_utterances(jobs)
    results = list(_run_jobs(jobs, workers, progress, n_utts))
    frame = pd.DataFrame(_manifest_rows(records, results, bool(spec.bilingual)))
    path = _write_outputs(out, spec, speakers, frame, int(seed), kind)
    n_skipped = sum(bool(r["skipped"]) for r in results)
    logger.info(
        "bias lab: %d speakers (%d generated, %d already done) -> %s",
        len(results),
        len(results) - n_skipped,
        n_skipped,
        path,
    )
    return PopulationResult(
        manifest_path=path,
        speakers=speakers,
        n_generated=len(results) - n_skipped,
        n_skipped=n_skipped,
    )


def _claim_folder(out: Path, identity: dict[str, Any]) -> None:
    """Write ``population.json`` into a new folder; refuse one that holds another population."""
    marker = out / "population.json"
    if marker.is_file():
        old = json.loads(marker.read_text(encoding="utf-8"))
        if {k: old.get(k) for k in identity} != identity:
            raise ValueError(
                f"{out} already holds a different population ({marker}: {old}); expected "
                f"{identity}. Use a new folder."
            )
    else:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(marker, json.dumps(identity, indent=2, sort_keys=True) + "\n")


def _speaker_jobs(
    records: list[dict[str, Any]], spec: PopulationSpec, out: Path, identity: dict[str, Any]
) -> list[dict[str, Any]]:
    """Return one picklable job per speaker for :func:`_make_speaker_files`."""
    fingerprint = json.dumps(identity, sort_keys=True)
    return [
        {
            "out_dir": str(out),
            "speaker": rec,
            "seed": identity["seed"],
            "kind": identity["kind"],
            "index": int(rec["speaker_id"].rsplit("-", 1)[1]),
            "face_size_px": spec.face_size_px,
            "utterances": spec.utterances_per_speaker,
            "clip_seconds": spec.clip_seconds,
            "fingerprint": fingerprint,
            "utterances_per_language": spec.bilingual.get("utterances_per_language", 0),
        }
        for rec in records
    ]


def _manifest_rows(
    records: list[dict[str, Any]], results: list[dict[str, Any]], bilingual: bool
) -> list[dict[str, Any]]:
    """Return the manifest rows: one per utterance, speakers in draw order."""
    by_id = {r["speaker_id"]: r for r in results}
    rows = []
    for spk in records:
        rec = by_id[spk["speaker_id"]]
        for utt in rec["utterances"]:
            rows.append(
                {
                    "utterance_id": utt["utterance_id"],
                    "speaker_id": spk["speaker_id"],
                    "audio_path": utt["audio_path"],
                    "split": spk["split"],
                    "face_path": rec["face_path"],
                    "language": utt.get("language", spk["language"]),
                    "accent": utt.get("accent", spk["accent"]),
                    "gender": spk["gender"],
                    "age_group": spk["age_group"],
                    "ethnicity": spk["ethnicity"],
                    "landmarks_path": rec["landmarks_path"],
                    "face_size": f"{spk['face_size']:.6f}",
                    "f0_hz": f"{spk['voice_f0_hz']:.2f}",
                    "voice": utt.get("voice", spk["voice_voice"]),
                    "text": utt["text"],
                    **(
                        {
                            "first_language": spk["first_language"],
                            "bilingual": str(bool(spk["bilingual"])).lower(),
                        }
                        if bilingual
                        else {}
                    ),
                }
            )
    return rows
