"""Generation time of the demo's evaluation population with and without the bilingual block.

The demo's evaluation draw: ``representative`` preset, 20 speakers per cell, 3 utterances per
regular speaker, 3 s clips, 2 workers, seed 1000; "before" drops the ``[bilingual]`` table.
Numbers depend on machine load: run it on an idle machine for benchmark figures.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/validation/bilingual_generation_time.py``
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time

import pandas as pd

from s2f_data.biaslab import PopulationSpec, generate_population


def main() -> None:
    """Print speakers, utterances and seconds for both specs."""
    spec = dataclasses.replace(PopulationSpec.preset("representative"), utterances_per_speaker=3)
    before = dataclasses.replace(spec, bilingual={})
    for name, s in (("before (no bilingual block)", before), ("after (bilingual block)", spec)):
        folder = tempfile.mkdtemp()
        start = time.perf_counter()
        res = generate_population(
            s, folder, seed=1000, kind="eval", min_per_cell=20, workers=2, progress=False
        )
        n = len(pd.read_csv(res.manifest_path))
        print(
            f"{name}: {len(res.speakers)} speakers, {n} utterances, "
            f"{time.perf_counter() - start:.1f} s",
            flush=True,
        )
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
