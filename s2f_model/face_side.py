"""Regenerate the shipped compact face side: ``python -m s2f_model.face_side --seed 0 --out DIR``.

A thin command-line entry to :func:`s2f_model._face_side.main` (kept out of the package
import, so ``python -m`` runs it cleanly). With the default settings it writes
``compact_face_side.safetensors`` bit for bit equal to the shipped file, and its model card.
"""

from s2f_model._face_side import main

if __name__ == "__main__":
    raise SystemExit(main())
