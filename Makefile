# mlp - build, test, run. Plain make; see README.md.
#   make            library (build/libmlp.a) and tool (build/mlp)
#   make run        fetch MNIST if missing, train the default model
#   make test       fetch MNIST if missing, build and run the test suite
#   make data       fetch MNIST (DATASET=fashion-mnist for Fashion-MNIST)
#   make bench      benchmark
#   CC=clang, SAN=1 (address + undefined sanitizers), OPT=-O0 -g, KERNELS=portable|avx2|avx512

CC      ?= cc
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
DATASET ?= mnist
DATA    ?= data
BUILD   ?= build

# -ffp-contract=off: no silent fused multiply-adds, so each path's rounding is what its code says.
MLP_CFLAGS = -std=c11 -Wall -Wextra -Wshadow -fopenmp -ffp-contract=off -D_POSIX_C_SOURCE=200809L \
             -Iinclude -Isrc/core -Isrc/kernels -Isrc/io -Isrc/study -fPIC
LDLIBS  = -ljpeg -lz -lm
LDFLAGS ?=

ifeq ($(SAN),1)
  MLP_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
  BUILD := build-san
endif

# src/core: numerics and the training loop; src/kernels: matrix kernels and CPU dispatch;
# src/io: file formats; src/study: run folders, the study report, SVG figures.
LIB_SRC  = $(wildcard src/*/*.c)
LIB_OBJ  = $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
TEST_SRC = $(wildcard tests/*.c)
TEST_OBJ = $(TEST_SRC:tests/%.c=$(BUILD)/tests/%.o)
HDRS     = include/mlp.h $(wildcard src/*/*.h)

.PHONY: all run test data bench clean

all: $(BUILD)/mlp $(BUILD)/libmlp.a

$(BUILD)/obj/%.o: src/%.c $(HDRS) | $(BUILD)/obj
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(MLP_CFLAGS) -c $< -o $@

$(BUILD)/tests/%.o: tests/%.c $(HDRS) tests/check.h | $(BUILD)/tests
	$(CC) $(CFLAGS) $(MLP_CFLAGS) -c $< -o $@

$(BUILD)/obj $(BUILD)/tests:
	mkdir -p $@

$(BUILD)/libmlp.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/mlp: $(wildcard tools/*.c) $(wildcard tools/*.h) $(BUILD)/libmlp.a $(HDRS)
	$(CC) $(CFLAGS) $(MLP_CFLAGS) -Itools $(wildcard tools/*.c) -o $@ $(BUILD)/libmlp.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/mlp_tests: $(TEST_OBJ) $(BUILD)/libmlp.a
	$(CC) $(CFLAGS) $(MLP_CFLAGS) $(TEST_OBJ) -o $@ $(BUILD)/libmlp.a $(LDFLAGS) $(LDLIBS)

data: $(DATA)/$(DATASET)/.verified

$(DATA)/%/.verified: scripts/fetch_data.sh
	sh scripts/fetch_data.sh $* $(DATA)/$*

run: $(BUILD)/mlp data
	$(BUILD)/mlp train --dataset $(DATASET) --data $(DATA)/$(DATASET) $(ARGS)

test: $(BUILD)/mlp_tests $(BUILD)/mlp $(DATA)/mnist/.verified
	@$(MAKE) --no-print-directory $(DATA)/fashion-mnist/.verified || \
	    echo "warning: Fashion-MNIST could not be fetched; its tests will be skipped"
	MLP_DATA=$(DATA)/mnist MLP_BIN=$(BUILD)/mlp $(BUILD)/mlp_tests $(T)

clean:
	rm -rf build build-san

# Feature makefiles (install, fuzz, bench, ...): each adds its own targets.
-include $(wildcard mk/*.mk)
