"""Utterance and speaker counts per group, for the validity mask of each metric.

`GroupCounts` answers, for one grouping and any validity mask over the rows: how many
utterances and distinct speakers each group holds, how many speakers lie outside each
group, and the sums of squared per-speaker row counts behind the design effects of
`audit._power.null_effective_size`. Counts depend only on the mask, so they are cached per
distinct mask (many metrics share one).
"""

from __future__ import annotations

import numpy as np

from audit._bootstrap import SpeakerBootstrap

__all__ = ["GroupCounts"]


def _speaker_counts(
    boot: SpeakerBootstrap, codes: np.ndarray, valid: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """Utterances and distinct speakers per group among valid rows."""
    n_utt = np.bincount(codes[valid], minlength=n_groups)
    pairs = np.unique(boot.speaker_codes[valid] * n_groups + codes[valid])
    n_spk = np.bincount(pairs % n_groups, minlength=n_groups)
    return n_utt, n_spk


def _rest_speakers(
    boot: SpeakerBootstrap, codes: np.ndarray, valid: np.ndarray, n_groups: int
) -> tuple[int, np.ndarray]:
    """Speakers with valid rows in total, and per group outside that group."""
    pairs = np.unique(boot.speaker_codes[valid] * n_groups + codes[valid])
    spk, grp = pairs // n_groups, pairs % n_groups
    per_speaker = np.bincount(spk, minlength=boot.n_speakers)
    n_total = int(np.count_nonzero(per_speaker))
    only_here = np.bincount(grp[per_speaker[spk] == 1], minlength=n_groups)
    return n_total, n_total - only_here


def _speaker_squares(
    boot: SpeakerBootstrap, codes: np.ndarray, valid: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray, float]:
    """Sum ``n_s^2`` per group, outside each group, and over the table (valid rows).

    ``n_s`` counts a speaker's valid rows (in the group, outside it, in the table): the
    cluster sizes behind the design effect of `audit._power.null_effective_size`.
    """
    spk_all = boot.speaker_codes[valid]
    per_speaker = np.bincount(spk_all, minlength=boot.n_speakers).astype(np.float64)
    keys, cnt = np.unique(spk_all * n_groups + codes[valid], return_counts=True)
    spk, grp = keys // n_groups, keys % n_groups
    cnt = cnt.astype(np.float64)
    sq_g = np.bincount(grp, weights=cnt**2, minlength=n_groups)
    cross = np.bincount(grp, weights=cnt * per_speaker[spk], minlength=n_groups)
    total = float((per_speaker**2).sum())
    return sq_g, total - 2 * cross + sq_g, total


class GroupCounts:
    """Utterance and speaker counts per group for each distinct validity mask.

    Parameters
    ----------
    boot : SpeakerBootstrap
        Bootstrap over the table's speakers (its ``speaker_codes`` identify the speakers).
    codes : ndarray of int, shape (n_rows,)
        Group index of every row.
    n_groups : int
        Number of groups.

    Examples
    --------
    >>> import numpy as np
    >>> from audit.stats import SpeakerBootstrap
    >>> boot = SpeakerBootstrap(np.array(["a", "a", "b", "c"]), 10, 0)
    >>> counts = GroupCounts(boot, np.array([0, 0, 0, 1]), 2)
    >>> [c.tolist() for c in counts(np.ones(4, dtype=bool))]
    [[3, 1], [2, 1]]
    """

    def __init__(self, boot: SpeakerBootstrap, codes: np.ndarray, n_groups: int) -> None:
        self.boot, self.codes, self.n_groups = boot, codes, n_groups
        self.cache: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
        self.rest_cache: dict[bytes, tuple[int, np.ndarray]] = {}

    def __call__(self, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Utterances and distinct speakers per group among the ``valid`` rows."""
        key = np.packbits(valid).tobytes()
        if key not in self.cache:
            self.cache[key] = _speaker_counts(self.boot, self.codes, valid, self.n_groups)
        return self.cache[key]

    def rest(self, valid: np.ndarray) -> tuple[int, np.ndarray]:
        """Speakers with valid rows in total and, per group, outside the group."""
        key = np.packbits(valid).tobytes()
        if key not in self.rest_cache:
            self.rest_cache[key] = _rest_speakers(self.boot, self.codes, valid, self.n_groups)
        return self.rest_cache[key]

    def squares(self, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Sum ``n_s^2`` per group, outside each group and in total (`_speaker_squares`)."""
        return _speaker_squares(self.boot, self.codes, valid, self.n_groups)
