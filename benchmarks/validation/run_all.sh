#!/bin/sh
# Run the simulation studies recorded in docs/validation.md, one after the other (one core).
# Usage: sh benchmarks/validation/run_all.sh [REPLICATES]   (from the repository root)
set -e
R=${1:-200}
OUT=benchmarks/validation/results
mkdir -p "$OUT"
export OMP_NUM_THREADS=1 PYTHONPATH=.
S="python benchmarks/validation/simulate.py"
[ -x .venv/bin/python ] && S=".venv/bin/python benchmarks/validation/simulate.py"
$S --study coverage --replicates "$R" --seed 1 > "$OUT/coverage_p07.txt"
$S --study coverage --replicates "$R" --seed 2 --rates 0.9 > "$OUT/coverage_p09.txt"
$S --study null --replicates "$R" --seed 3 --sizes 200,200,200,200,200,200,200,200 > "$OUT/null_8x200.txt"
$S --study null --replicates "$R" --seed 4 > "$OUT/null_mixed.txt"
$S --study null --replicates "$R" --seed 5 --sizes 200,200,200,200,200,200,200,200 --reference g0 > "$OUT/null_8x200_named.txt"
$S --study power --replicates "$R" --seed 6 --sizes 200,200 --rates 0.8 > "$OUT/power_p08_u4.txt"
$S --study power --replicates "$R" --seed 7 --sizes 200,200 --rates 0.8 --utterances-per-speaker 1 > "$OUT/power_p08_u1.txt"
$S --study power --replicates "$R" --seed 8 --sizes 200,200 --rates 0.5 --utterances-per-speaker 1 > "$OUT/power_p05_u1.txt"
$S --study power --replicates "$R" --seed 9 --sizes 200,200,200,200,200,200 --rates 0.8 --reference overall > "$OUT/power_p08_6groups_overall.txt"
$S --study paired --replicates "$((R / 2))" --seed 10 --sizes 200,200,200,200 --gap -0.10 > "$OUT/paired_gap.txt"
$S --study paired --replicates "$((R / 2))" --seed 11 --sizes 20,40,200,2000 --gap 0 > "$OUT/paired_null.txt"
$S --study coverage --replicates "$R" --seed 12 --rates 0.9 --reference g3 > "$OUT/coverage_p09_ref200.txt"
.venv/bin/python benchmarks/validation/planted_bias.py --replicates "$((R / 4))" --seed 13 > "$OUT/planted_bias.txt"
$S --study null --replicates "$R" --seed 14 --sizes 200,200,200,200,200,200,200,200 --reference best > "$OUT/null_8x200_best.txt"
$S --study power --replicates "$R" --seed 16 --sizes 400,400,400,400,400,400,400,400 --rates 0.8 --reference best > "$OUT/power_p08_8groups_best.txt"
$S --study power --replicates "$R" --seed 17 --sizes 200,200,200,200,200,200,200,200 --rates 0.8 --reference best > "$OUT/power_p08_8groups_best_50spk.txt"
$S --study power --replicates "$R" --seed 15 --sizes 800,800,800,800,800,800,800,800 --rates 0.8 --reference best > "$OUT/power_p08_8groups_best_200spk.txt"
$S --study power --replicates "$R" --seed 16 --sizes 400,400,400,400,400,400,400,400 --rates 0.8 --reference g0 > "$OUT/power_p08_8groups_named.txt"
A=".venv/bin/python benchmarks/validation/arms.py"
$A --replicates "$R" --seed 21 --gaps 0,0,0,0 > "$OUT/arms_null_k3.txt"
$A --replicates "$R" --seed 20 > "$OUT/arms_gap_k3.txt"
$A --replicates "$R" --seed 22 --gaps 0,0,0,0 --seed-sd 0 > "$OUT/arms_null_k3_no_seed_noise.txt"
