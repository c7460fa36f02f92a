# mk/mpi.mk - the MPI build, its tests and its benchmark (docs/MPI.md). The default build needs no MPI.
#
#   make MPI=1           build $(MPI_BUILD)/mlp (default build-mpi/mlp) with mpicc and -DMLP_MPI; the default
#                        build in build/ is untouched (a sub-make with BUILD=build-mpi does the work)
#   make test-mpi        the MPI tests (scripts/test_mpi.sh): sweeps and training under mpirun -np 2, compared
#                        with single-process twins, and a rank killed in the middle of a sweep
#   make bench MPI=1     also the MPI figures (or alone: make bench-mpi): scripts/bench_mpi.sh
#   make clean-mpi       remove $(MPI_BUILD) (make clean does too)
#
#   MPICC=...            the MPI compiler wrapper (default mpicc; OMPI_CC=clang picks Open MPI's compiler)
#   MPIRUN_ARGS=...      extra mpirun options for the tests and the benchmark (e.g. --hostfile hosts); the
#                        scripts add --oversubscribe, and --allow-run-as-root when run as root
# Debian: apt-get install openmpi-bin libopenmpi-dev

MPICC ?= mpicc
ifeq ($(SAN),1)
  MPI_BUILD ?= build-mpi-san
else
  MPI_BUILD ?= build-mpi
endif

.PHONY: mpi test-mpi bench-mpi clean-mpi

ifeq ($(MLP_MPI_INNER),1)
# The sub-make building $(MPI_BUILD): the tool's MPI layer (tools/mpi_util.c) is compiled for real.
MLP_CFLAGS += -DMLP_MPI
else

mpi:
	@command -v $(MPICC) >/dev/null || { echo "$(MPICC) not found: install Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev) or set MPICC" >&2; exit 1; }
	$(MAKE) MLP_MPI_INNER=1 BUILD=$(MPI_BUILD) CC=$(MPICC) $(MPI_BUILD)/mlp $(MPI_BUILD)/libmlp.a

ifeq ($(MPI),1)
.DEFAULT_GOAL := mpi
bench: bench-mpi
endif

test-mpi: mpi $(BUILD)/mlp $(DATA)/mnist/.verified
	MLP_DATA=$(DATA)/mnist MLP_BIN=$(BUILD)/mlp MLP_MPI_BIN=$(MPI_BUILD)/mlp MPIRUN_ARGS="$(MPIRUN_ARGS)" \
	    sh scripts/test_mpi.sh

bench-mpi: mpi $(DATA)/mnist/.verified
	MLP_DATA=$(DATA)/mnist MLP_MPI_BIN=$(MPI_BUILD)/mlp MPIRUN_ARGS="$(MPIRUN_ARGS)" sh scripts/bench_mpi.sh

clean: clean-mpi
clean-mpi:
	rm -rf build-mpi build-mpi-san build-mpi-clang

endif
