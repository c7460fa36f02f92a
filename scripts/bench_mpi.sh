#!/bin/sh
# bench_mpi.sh - the MPI figures (make bench-mpi, or make bench MPI=1; docs/MPI.md), for np = 1 and 2 on this
# machine:
#   sweep   runs per minute of an 8-run sweep (784-128-10, 3 epochs each): np ranks x 1 job each, and one
#           process with 2 jobs without mpirun (the single-process default on 2 cores) for comparison;
#   train   data-parallel seconds per epoch of one 784-128-10 network, and the share of the time spent in
#           MPI communication (rank 0's time inside the gradient allreduce / the epoch's time).
# Environment: MLP_MPI_BIN (default build-mpi/mlp), MLP_DATA (default data/mnist), MPIRUN_ARGS (e.g.
# --hostfile hosts to measure a cluster), BENCH_NP (default "1 2"), BENCH_EPOCHS (train, default 3),
# BENCH_BATCH (train, default 100), BENCH_BATCHES (several, e.g. "100 1000").
set -u
MPI_BIN=${MLP_MPI_BIN:-build-mpi/mlp}
DATA=${MLP_DATA:-data/mnist}
NPS=${BENCH_NP:-1 2}
EPOCHS=${BENCH_EPOCHS:-3}
BATCH=${BENCH_BATCH:-100}
command -v mpirun >/dev/null 2>&1 || { echo "mpirun not found (Debian: apt-get install openmpi-bin libopenmpi-dev)" >&2; exit 1; }
[ -x "$MPI_BIN" ] || { echo "$MPI_BIN not built (make MPI=1)" >&2; exit 1; }
case $MPI_BIN in /*) ;; *) MPI_BIN=$PWD/$MPI_BIN ;; esac
case $DATA in /*) ;; *) DATA=$PWD/$DATA ;; esac
MPIRUN="mpirun --oversubscribe"
[ "$(id -u)" = 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
MPIRUN="$MPIRUN ${MPIRUN_ARGS:-}"
T=$(mktemp -d "${TMPDIR:-/tmp}/mlp_mpi_bench.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT

now() { date +%s.%N; }

echo "machine: $(nproc) CPUs, $(mpirun --version 2>/dev/null | head -1)"
echo
echo "sweep: 8 runs (784-128-10, relu/gelu x ce/hinge x seeds 1,2), 3 epochs each"
printf '  %-22s %10s %12s\n' "ranks x jobs" "wall (s)" "runs/min"
sweep() { # sweep NP JOBS (NP 0: one process without mpirun)
    t0=$(now)
    launch="$MPIRUN -np $1"
    [ "$1" = 0 ] && launch=""
    $launch "$MPI_BIN" sweep --data "$DATA" --act relu,gelu --loss ce,hinge --seeds 1,2 --hidden 128 \
        --epochs 3 --grad-reduction mean --lr 0.05 --jobs "$2" --out "$T/sweep_$1_$2" >"$T/sweep_$1_$2.log" 2>&1 ||
        { cat "$T/sweep_$1_$2.log"; exit 1; }
    t1=$(now)
    what="$1 x $2"
    [ "$1" = 0 ] && what="no mpirun, $2 jobs"
    awk -v a="$t0" -v b="$t1" -v w="$what" 'BEGIN { printf "  %-22s %10.2f %12.1f\n", w, b - a, 8 * 60 / (b - a) }'
}
for np in $NPS; do sweep "$np" 1; done
sweep 0 2 # the single-process default on 2 cores (mpirun -np 1 would bind the rank, and its jobs, to one core)

echo
echo "data-parallel training: one 784-128-10 network (hinge, summed gradients, lr 1e-5), $EPOCHS epochs"
echo "  (np = 1 is the single-process trainer; np > 1 the sharded step, one thread per rank; comm = rank 0's"
echo "   time inside the gradient allreduce, waiting for the other ranks included)"
printf '  %-18s %6s %10s %14s %11s\n' "ranks x threads" "batch" "s/epoch" "comm s/epoch" "comm share"
train() { # train NP THREADS BATCH
    d="$T/train_$1_$2_$3"
    $MPIRUN -np "$1" "$MPI_BIN" train --data "$DATA" --hidden 128 --epochs "$EPOCHS" --batch "$3" --threads "$2" \
        --quiet --out "$d" >"$d.log" 2>&1 || { cat "$d.log"; exit 1; }
    awk -F, -v np="$1" -v th="$2" -v b="$3" -v e="$EPOCHS" -v lf="$d.log" '
        NR > 1 { s += $7 }
        END {
            c = 0
            while ((getline line < lf) > 0)
                if (line ~ /in MPI communication/) { split(line, w, ": "); split(w[3], v, " "); c = v[1] }
            printf "  %-18s %6d %10.3f %14.3f %10.1f%%\n", np " x " th, b, s / e, c / e, (s > 0 ? 100 * c / s : 0)
        }' "$d/metrics.csv"
}
for b in ${BENCH_BATCHES:-$BATCH}; do
    train 1 1 "$b"
    train 1 2 "$b"
    for np in $NPS; do [ "$np" -gt 1 ] && train "$np" 1 "$b"; done
done
