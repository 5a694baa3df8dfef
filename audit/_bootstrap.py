"""Speaker-cluster bootstrap, stratified by group, as weighted sums over speakers.

A replicate draws speakers with replacement inside each stratum (the set of groups a speaker
belongs to in the grouping at hand), so that no group ever vanishes from a replicate, and
turns the draw into a weight per speaker. Every metric here is a function of group totals of
per-utterance statistics, so a replicate's totals are ``weights @ speaker_sums``: one sparse
matrix product per chunk of replicates for all groups and metrics of a grouping.

The intervals and tests built on the replicates live in `audit._intervals` (re-exported
here, so ``from audit._bootstrap import bootstrap_interval`` keeps working).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from audit._intervals import (
    CI_METHODS,
    bootstrap_interval,
    bootstrap_p_value,
    boundary_interval,
    effective_sample_size,
    expanded_alpha,
    replicate_variance,
    wilson_interval,
)
from audit.exceptions import AuditInputError

__all__ = [
    "CI_METHODS",
    "SpeakerBootstrap",
    "bootstrap_interval",
    "bootstrap_p_value",
    "boundary_interval",
    "check_random_state",
    "effective_sample_size",
    "expanded_alpha",
    "replicate_variance",
    "wilson_interval",
]

_GATHER_MAX_STATS = 4


def check_random_state(random_state: object) -> int:
    """Return ``random_state`` as a non-negative int or raise naming the value."""
    if isinstance(random_state, bool) or not isinstance(random_state, int | np.integer):
        raise AuditInputError(
            f"random_state must be a non-negative integer seed, got {random_state!r}"
        )
    if random_state < 0:
        raise AuditInputError(f"random_state must be >= 0, got {random_state}")
    return int(random_state)


class SpeakerBootstrap:
    """Stratified speaker-cluster bootstrap replicates of group totals.

    Parameters
    ----------
    speakers : array-like, shape (n_rows,)
        Speaker id of every row (no missing values).
    n_boot : int
        Number of replicates.
    random_state : int
        Seed. Replicate ``b`` uses its own generator, ``SeedSequence(random_state).spawn``'s
        ``b``-th child, so the first replicates do not depend on ``n_boot``.
    chunk_size : int
        Replicates processed at once (bounds memory: ``chunk_size x n_speakers`` weights).
    n_jobs : int
        Threads working on chunks (NumPy releases the GIL); results do not depend on it.

    Examples
    --------
    >>> import numpy as np
    >>> boot = SpeakerBootstrap(["a", "a", "b", "c"], n_boot=50, random_state=0)
    >>> point, reps = boot.group_sums(np.ones((4, 1)), np.array([0, 0, 1, 1]), 2)
    >>> point[:, 0].tolist(), reps.shape
    ([2.0, 2.0], (50, 2, 1))
    """

    def __init__(
        self,
        speakers: object,
        n_boot: int,
        random_state: int,
        *,
        chunk_size: int = 25,
        n_jobs: int = 1,
    ) -> None:
        if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 1:
            raise AuditInputError(f"n_boot must be a positive integer, got {n_boot!r}")
        seed = check_random_state(random_state)
        speaker_series = pd.Series(np.asarray(speakers, dtype=object))
        if speaker_series.isna().any():
            row = int(np.flatnonzero(speaker_series.isna().to_numpy())[0])
            raise AuditInputError(f"speaker_id is missing in row {row}; every row needs one")
        codes, uniques = pd.factorize(speaker_series, sort=True)
        self.speaker_codes: np.ndarray = codes.astype(np.int64)
        self.n_speakers: int = len(uniques)
        self.n_boot: int = int(n_boot)
        self.random_state: int = seed
        self.chunk_size: int = max(1, int(chunk_size))
        if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
            raise AuditInputError(f"n_jobs must be a positive integer, got {n_jobs!r}")
        self.n_jobs: int = n_jobs
        self._uniforms: np.ndarray | None = None

    def uniforms(self) -> np.ndarray:
        """Uniform draws, shape ``(n_boot, n_speakers)``, float32; row ``b`` from seed ``b``."""
        if self._uniforms is None:
            children = np.random.SeedSequence(self.random_state).spawn(self.n_boot)
            u = np.empty((self.n_boot, self.n_speakers), dtype=np.float32)
            for b, child in enumerate(children):
                u[b] = np.random.default_rng(child).random(self.n_speakers, dtype=np.float32)
            self._uniforms = u
        return self._uniforms

    def strata(self, codes: np.ndarray, n_groups: int) -> np.ndarray:
        """Stratum of every speaker: the set of groups its rows fall into.

        Parameters
        ----------
        codes : ndarray of int, shape (n_rows,)
            Group of every row.
        n_groups : int
            Number of groups.

        Returns
        -------
        ndarray of int64, shape (n_speakers,)
            Speakers with the same set of groups share a stratum, so every group is a union
            of strata and keeps all its speakers' strata in every replicate.
        """
        pairs = np.unique(self.speaker_codes * n_groups + codes)
        spk, grp = pairs // n_groups, pairs % n_groups
        per_speaker = np.bincount(spk, minlength=self.n_speakers)
        if np.all(per_speaker == 1):  # fast path: each speaker in exactly one group
            out = np.empty(self.n_speakers, dtype=np.int64)
            out[spk] = grp
            return out
        presence = np.zeros((self.n_speakers, n_groups), dtype=bool)
        presence[spk, grp] = True
        packed = np.packbits(presence, axis=1)
        _, inverse = np.unique(packed, axis=0, return_inverse=True)
        return inverse.reshape(-1).astype(np.int64)

    def weights(self, strata: np.ndarray, start: int, stop: int) -> np.ndarray:
        """Speaker weights (draw counts) of replicates ``start:stop``, resampled per stratum.

        Returns
        -------
        ndarray of float64, shape (stop - start, n_speakers)
            Each stratum keeps its number of speakers in every replicate.
        """
        n_spk = self.n_speakers
        order = np.argsort(strata, kind="stable")
        sizes = np.bincount(strata)
        starts = np.cumsum(sizes) - sizes
        pos_stratum = strata[order]
        n_h = sizes[pos_stratum].astype(np.float32)
        u = self.uniforms()[start:stop]
        local = (u * n_h).astype(np.int64)  # (chunk, n_spk): draw index inside the stratum
        np.minimum(local, (n_h - 1).astype(np.int64), out=local)  # same arithmetic as below
        pick = order[starts[pos_stratum] + local]  # (chunk, n_spk): drawn speaker
        pick += np.arange(stop - start, dtype=np.int64)[:, None] * n_spk
        counts = np.bincount(pick.ravel(), minlength=(stop - start) * n_spk)
        return counts.reshape(stop - start, n_spk).astype(np.float64)

    def _single_group(self, codes: np.ndarray, n_groups: int) -> np.ndarray | None:
        """Group of every speaker when each speaker's rows share one group, else None."""
        first = np.full(self.n_speakers, -1, dtype=np.int64)
        first[self.speaker_codes] = codes
        if np.array_equal(first[self.speaker_codes], codes):
            return first
        return None

    def _reps_single(
        self,
        per_speaker: Any,
        group_of: np.ndarray,
        n_groups: int,
        k: int,
        out: np.ndarray,
    ) -> None:
        """Replicate totals when every speaker is in one group (strata = groups).

        Speakers are sorted by group; a replicate draws, for every sorted position, a
        speaker of the same group and sums the drawn speakers' totals group by group
        (``reduceat`` over contiguous blocks): no weight matrix is built.
        """
        order = np.argsort(group_of, kind="stable")
        sizes = np.bincount(group_of, minlength=n_groups)
        starts = np.cumsum(sizes) - sizes
        pos_group = group_of[order]
        n_pos = sizes[pos_group].astype(np.float32)  # stratum size at each sorted position
        first_pos = starts[pos_group].astype(np.int32)
        # Totals of the sorted speakers in their own group: (n_speakers, K).
        own = np.zeros((self.n_speakers, k))
        coo = per_speaker.tocoo()
        own[coo.row, coo.col % k] = coo.data  # each speaker has one group: no collisions
        own = own[order]
        present = np.flatnonzero(sizes > 0)
        block_starts = starts[present]
        out[:] = 0.0
        limit = (n_pos - 1).astype(np.int32)
        uniforms = self.uniforms()

        # Pairs of statistics as complex numbers: one gather fetches two of them.
        padded = np.zeros((self.n_speakers, k + k % 2))
        padded[:, :k] = own
        pairs = [
            np.ascontiguousarray(padded[:, 2 * j : 2 * j + 2]).view(np.complex128).ravel()
            for j in range(padded.shape[1] // 2)
        ]

        def work(start: int, stop: int) -> None:
            local = (uniforms[start:stop] * n_pos).astype(np.int32)  # (chunk, n_spk)
            np.minimum(local, limit, out=local)  # index inside the group
            local += first_pos  # position of the drawn speaker in sorted order
            for j, pair in enumerate(pairs):
                drawn = np.take(pair, local)  # (chunk, n_spk) complex: stats 2j and 2j+1
                sums = np.add.reduceat(drawn, block_starts, axis=1)  # (chunk, groups present)
                out[start:stop, present, 2 * j] = sums.real
                if 2 * j + 1 < k:
                    out[start:stop, present, 2 * j + 1] = sums.imag

        self._map_chunks(work)

    def _map_chunks(self, work: Callable[[int, int], None]) -> None:
        """Run ``work(start, stop)`` over replicate chunks, on ``n_jobs`` threads."""
        chunks = [
            (start, min(start + self.chunk_size, self.n_boot))
            for start in range(0, self.n_boot, self.chunk_size)
        ]
        if self.n_jobs == 1 or len(chunks) == 1:
            for start, stop in chunks:
                work(start, stop)
            return
        with ThreadPoolExecutor(max_workers=self.n_jobs) as pool:
            for future in [pool.submit(work, a, b) for a, b in chunks]:
                future.result()  # re-raise errors

    def group_sums(
        self,
        values: np.ndarray,
        codes: np.ndarray,
        n_groups: int,
        *,
        strata: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Group totals of per-row statistics, and their bootstrap replicates.

        Parameters
        ----------
        values : ndarray, shape (n_rows, K)
            Per-row statistics (e.g. numerator and denominator indicators).
        codes : ndarray of int, shape (n_rows,)
            Group of every row, in ``[0, n_groups)``.
        n_groups : int
            Number of groups.
        strata : ndarray of int, shape (n_speakers,), optional
            Resampling strata; by default `strata` of ``codes``. Giving them forces the
            general path (a weight matrix per chunk); without them, with at most 4
            statistics and every speaker's rows in one group, a faster path draws the same
            replicates.

        Returns
        -------
        point : ndarray, shape (n_groups, K)
            Totals on the data.
        replicates : ndarray, shape (n_boot, n_groups, K)
            Totals in every replicate.
        """
        from scipy import sparse

        values = np.asarray(values, dtype=np.float64)
        n_rows = len(self.speaker_codes)
        if values.ndim != 2 or values.shape[0] != n_rows:
            raise AuditInputError(f"values must have shape ({n_rows}, K), got {values.shape}")
        codes = np.asarray(codes, dtype=np.int64)
        if codes.shape != (n_rows,):
            raise AuditInputError(f"codes must have shape ({n_rows},), got {codes.shape}")
        k = values.shape[1]
        point = np.empty((n_groups, k))
        for j in range(k):
            point[:, j] = np.bincount(codes, weights=values[:, j], minlength=n_groups)
        per_speaker = sparse.csr_matrix(
            (
                values.ravel(),
                (np.repeat(self.speaker_codes, k), ((codes * k)[:, None] + np.arange(k)).ravel()),
            ),
            shape=(self.n_speakers, n_groups * k),
        )  # (n_speakers, n_groups * K): row s holds speaker s's totals per group
        per_speaker.sum_duplicates()
        self.uniforms()  # draw once, before any worker thread needs them
        reps = np.empty((self.n_boot, n_groups, k))
        # Few statistics: gather per speaker (cost ~ n_boot x speakers x K/2). Many (a whole
        # audit stacks hundreds, mostly zero per row): weights @ sparse totals is cheaper
        # (cost ~ n_boot x (speakers + nonzeros)).
        use_gather = strata is None and k <= _GATHER_MAX_STATS
        single = self._single_group(codes, n_groups) if use_gather else None
        if single is not None:
            self._reps_single(per_speaker, single, n_groups, k, reps)
        else:
            if strata is None:
                strata = self.strata(codes, n_groups)
            transposed = per_speaker.T.tocsr()  # (n_groups*K, n_speakers)

            def work(start: int, stop: int) -> None:
                w = self.weights(strata, start, stop)  # (chunk, n_speakers)
                reps[start:stop] = (transposed @ w.T).T.reshape(stop - start, n_groups, k)

            self._map_chunks(work)
        return point, reps
