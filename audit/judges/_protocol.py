"""The judge protocol and helpers shared by every judge.

A judge looks at face images and returns, per attribute it can measure, class
probabilities over its own label vocabulary. An attribute it cannot measure is absent from
``vocabularies`` and from the output: the audit reports it as "not measured", never guesses.
An image the judge cannot read (e.g. no face detected) gets a row of NaN.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from audit.judges._errors import JudgeError

__all__ = ["CombinedJudge", "Judge", "check_images", "check_probabilities", "judge_labels"]


@runtime_checkable
class Judge(Protocol):
    """Anything that judges face attributes.

    Attributes
    ----------
    name : str
        Short identifier recorded in ``audit.json`` (e.g. ``"biaslab-cnn"``).
    vocabularies : dict of str to tuple of str
        Attribute -> labels, in the column order of :meth:`predict_proba`.
    """

    name: str
    vocabularies: Mapping[str, tuple[str, ...]]

    def predict_proba(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Judge ``(N, H, W, 3)`` uint8 RGB images -> attribute -> ``(N, K)`` probabilities.

        Rows sum to 1, or are all NaN where the judge could not read the image.
        """
        ...


def check_images(images: np.ndarray, *, min_size: int = 8) -> np.ndarray:
    """Validate a batch of RGB uint8 images ``(N, H, W, 3)`` (one ``(H, W, 3)`` is promoted).

    Parameters
    ----------
    images : numpy.ndarray
        The batch.
    min_size : int
        Smallest accepted height and width in pixels.

    Returns
    -------
    numpy.ndarray
        ``(N, H, W, 3)`` uint8, C-contiguous.

    Raises
    ------
    JudgeError
        On a wrong dtype or shape; the message names what was received.
    """
    arr = np.asarray(images)
    if arr.ndim == 3:
        arr = arr[None]  # (H, W, 3) -> (1, H, W, 3)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise JudgeError(f"images must have shape (N, H, W, 3) RGB, got {np.shape(images)}")
    if arr.dtype != np.uint8:
        raise JudgeError(f"images must be uint8 in [0, 255], got dtype {arr.dtype}")
    if min(arr.shape[1:3]) < min_size:
        raise JudgeError(f"images must be at least {min_size} x {min_size} px, got {arr.shape}")
    return np.ascontiguousarray(arr)


def check_probabilities(
    judge: Judge, probs: Mapping[str, np.ndarray], n_images: int
) -> dict[str, np.ndarray]:
    """Check a judge's output against its vocabularies; raise :class:`JudgeError` if broken.

    Parameters
    ----------
    judge : Judge
        The judge that produced ``probs``.
    probs : mapping
        Output of ``judge.predict_proba``.
    n_images : int
        Number of images judged.

    Returns
    -------
    dict
        Attribute -> ``(n_images, K)`` float64 array.
    """
    vocab = judge.vocabularies
    extra = sorted(set(probs) - set(vocab))
    if extra:
        raise JudgeError(
            f"judge {judge.name!r} returned attribute(s) {extra} not in its "
            f"vocabularies {sorted(vocab)}"
        )
    out = {}
    for attr, labels in vocab.items():
        if attr not in probs:
            raise JudgeError(
                f"judge {judge.name!r} declares {attr!r} but returned no probabilities for it"
            )
        p = np.asarray(probs[attr], dtype=np.float64)
        if p.shape != (n_images, len(labels)):
            raise JudgeError(
                f"judge {judge.name!r}, attribute {attr!r}: expected shape "
                f"{(n_images, len(labels))}, got {p.shape}"
            )
        ok = ~np.isnan(p).all(axis=1)
        if (p[ok] < -1e-6).any() or not np.allclose(p[ok].sum(axis=1), 1.0, atol=1e-4):
            raise JudgeError(
                f"judge {judge.name!r}, attribute {attr!r}: rows must be "
                "probabilities summing to 1 (or all NaN)"
            )
        out[attr] = p
    return out


def judge_labels(judge: Judge, images: np.ndarray, batch_size: int = 256) -> pd.DataFrame:
    """Judge images and return the top label and its probability per attribute.

    Parameters
    ----------
    judge : Judge
        Any judge.
    images : numpy.ndarray
        ``(N, H, W, 3)`` uint8.
    batch_size : int
        Images per ``predict_proba`` call.

    Returns
    -------
    pandas.DataFrame
        ``N`` rows; for each measured attribute a column ``<attr>`` (label, ``<NA>`` where
        the image could not be judged) and ``<attr>_confidence`` (probability of that label).
        Attributes the judge does not measure have no columns.

    Examples
    --------
    >>> class Const:
    ...     name, vocabularies = "const", {"gender": ("female", "male")}
    ...     def predict_proba(self, images):
    ...         return {"gender": np.tile([0.2, 0.8], (len(images), 1))}
    >>> judge_labels(Const(), np.zeros((2, 16, 16, 3), np.uint8))["gender"].tolist()
    ['male', 'male']
    """
    images = check_images(images)
    parts = []
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size]
        parts.append(check_probabilities(judge, judge.predict_proba(chunk), len(chunk)))
    frame = {}
    for attr, labels in judge.vocabularies.items():
        p = np.concatenate([part[attr] for part in parts]) if parts else np.zeros((0, len(labels)))
        ok = ~np.isnan(p).all(axis=1)
        top = np.argmax(np.where(ok[:, None], p, 0.0), axis=1)
        label = np.array(labels, dtype=object)[top]
        frame[attr] = pd.array(np.where(ok, label, None), dtype="string")
        frame[f"{attr}_confidence"] = np.where(ok, p[np.arange(len(p)), top], np.nan)
    return pd.DataFrame(frame)


class CombinedJudge:
    """Several judges as one: each attribute comes from the first judge that measures it.

    Parameters
    ----------
    judges : sequence of Judge
        In priority order, e.g. ``[AgeGenderJudge(), my_ethnicity_judge]``.
    name : str, optional
        Defaults to the member names joined by ``"+"``.

    Examples
    --------
    >>> class G:
    ...     name, vocabularies = "g", {"gender": ("female", "male")}
    ...     def predict_proba(self, images):
    ...         return {"gender": np.tile([1.0, 0.0], (len(images), 1))}
    >>> CombinedJudge([G()]).vocabularies
    {'gender': ('female', 'male')}
    """

    def __init__(self, judges: Sequence[Judge], name: str | None = None) -> None:
        if not judges:
            raise JudgeError("CombinedJudge needs at least one judge")
        self.judges = list(judges)
        self.name = name or "+".join(j.name for j in self.judges)
        self._source: dict[str, int] = {}
        for i, judge in enumerate(self.judges):
            for attr in judge.vocabularies:
                self._source.setdefault(attr, i)
        self.vocabularies = {
            attr: tuple(self.judges[i].vocabularies[attr]) for attr, i in self._source.items()
        }

    def predict_proba(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Run each member judge once and keep the attributes it is chosen for."""
        images = check_images(images)
        out: dict[str, np.ndarray] = {}
        for i, judge in enumerate(self.judges):
            wanted = [a for a, src in self._source.items() if src == i]
            if wanted:
                probs = check_probabilities(judge, judge.predict_proba(images), len(images))
                out |= {a: probs[a] for a in wanted}
        return out
