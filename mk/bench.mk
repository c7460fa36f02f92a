# bench.mk - `make bench`: the benchmark program bench/bench.c (docs/PERFORMANCE.md explains the figures).
#   make bench                      build $(BUILD)/mlp_bench and run it on data/mnist (fetched like `make test`)
#   make bench ARGS=--quick         shorter (~2 min): fewer repetitions, no width 4096, fewer epochs
#                                   (ARGS: --epochs N, --paths avx2,avx512,..., --only wide,epochs,peers,... )
#   PyTorch side by side:           when /usr/bin/python3 has torch (Debian: apt-get install python3-torch; for its
#                                   products to use OpenBLAS rather than the reference BLAS: libopenblas0-pthread),
#                                   bench/peers/torch_mlp.py runs the same trainings; MLP_PYTHON=... another python
#   make BLAS=openblas bench        also the "blas" kernel path: cblas_sgemm from OpenBLAS for the products
#                                   (optional; Debian: apt-get install libopenblas-dev). Use a separate build
#                                   folder for it, e.g. make BLAS=openblas BUILD=build-openblas bench.
# BLAS=blas uses the reference netlib CBLAS (libblas-dev): slow, for checking the backend builds.

BENCH_BIN = $(BUILD)/mlp_bench

ifneq ($(BLAS),)
  MLP_CFLAGS += -DMLP_BLAS=1
  ifeq ($(BLAS),openblas)
    MLP_CFLAGS += -DMLP_BLAS_OPENBLAS=1 -I/usr/include/x86_64-linux-gnu/openblas-pthread
    LDLIBS += -lopenblas
  else
    LDLIBS += -l$(BLAS)
  endif
endif

# Objects compiled with and without BLAS differ: a stamp holding $(BLAS), rewritten only when it changes,
# makes every object depend on the choice.
BLAS_STAMP = $(BUILD)/.blas-choice
.PHONY: blas-stamp-check
blas-stamp-check:
	@mkdir -p $(BUILD); echo '$(BLAS)' | cmp -s - $(BLAS_STAMP) 2>/dev/null || echo '$(BLAS)' > $(BLAS_STAMP)
$(BLAS_STAMP): blas-stamp-check
$(LIB_OBJ) $(TEST_OBJ): $(BLAS_STAMP)

$(BENCH_BIN): bench/bench.c $(BUILD)/libmlpint.a $(HDRS)
	$(CC) $(CFLAGS) $(MLP_CFLAGS) $< -o $@ $(BUILD)/libmlpint.a $(LDFLAGS) $(LDLIBS)

bench: $(BENCH_BIN) $(DATA)/mnist/.verified
	MLP_DATA=$(DATA)/mnist MLP_PEERS=bench/peers $(BENCH_BIN) $(ARGS)
