# mlp - build, test, run. Plain make; see README.md.
#   make            library (build/libmlp.a) and tool (build/mlp)
#   make run        fetch MNIST if missing, train the default model
#   make test       fetch MNIST if missing, build and run the test suite
#   make data       fetch MNIST (DATASET=fashion-mnist for Fashion-MNIST)
#   make bench      benchmark
#   CC=clang, SAN=1 (address + undefined sanitizers), OPT=-O0 -g, KERNELS=portable|avx2|avx512
#
# What is built (docs/ARCHITECTURE.md, "Layers and the library boundary"):
#   build/libmlp.a, libmlp.so   the library: src/base, src/core, src/kernels, src/io. Compiled with
#                               -fvisibility=hidden; only what include/mlp.h declares is visible (mlp.h marks it),
#                               and libmlp.a is one pre-linked object whose hidden symbols are made local, so both
#                               export exactly the functions of mlp.h (tests/test_install.c checks it with nm).
#   build/libmlpbase.a          src/base (errors, atomic files, clock, JSON, string buffers) and src/io/runcfg.c (the
#                               run configuration's one table: config.json is the tool's) for the tool and
#                               the study, which share these helpers with the library (not installed)
#   build/libmlpstudy.a         src/study: run folders, the study report, SVG figures (the tool's, not installed)
#   build/libmlpint.a           the library's objects with their internal symbols, for white-box tests, the
#                               benchmark and the fuzz seeds (not installed)
#   build/mlp                   the tool: tools/ + libmlpstudy.a + libmlpbase.a + libmlp.a

CC      ?= cc
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
DATASET ?= mnist
DATA    ?= data
BUILD   ?= build

# -ffp-contract=off: no silent fused multiply-adds, so each path's rounding is what its code says.
# -fvisibility=hidden: nothing of the library is visible but what include/mlp.h declares (see above).
MLP_CFLAGS = -std=c11 -Wall -Wextra -Wshadow -fopenmp -ffp-contract=off -D_POSIX_C_SOURCE=200809L \
             -Iinclude -Isrc/base -Isrc/core -Isrc/kernels -Isrc/io -Isrc/study -fPIC -fvisibility=hidden
LDLIBS  = -ljpeg -lz -lm
LDFLAGS ?=

ifeq ($(SAN),1)
  MLP_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
  BUILD := build-san
endif

# src/base: errors, files, JSON; src/core: numerics and the training loop; src/kernels: matrix kernels and CPU
# dispatch; src/io: file formats. src/study: run folders, the study report, SVG figures (outside the library).
LIB_SRC   = $(wildcard src/base/*.c src/core/*.c src/kernels/*.c src/io/*.c)
LIB_OBJ   = $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
BASE_OBJ  = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(wildcard src/base/*.c) src/io/runcfg.c)
STUDY_OBJ = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(wildcard src/study/*.c))
TEST_SRC  = $(wildcard tests/*.c)
TEST_OBJ  = $(TEST_SRC:tests/%.c=$(BUILD)/tests/%.o)
HDRS      = include/mlp.h $(wildcard src/*/*.h)

.PHONY: all run test data bench clean

all: $(BUILD)/mlp $(BUILD)/libmlp.a

$(BUILD)/obj/%.o: src/%.c $(HDRS) | $(BUILD)/obj
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(MLP_CFLAGS) -c $< -o $@

$(BUILD)/tests/%.o: tests/%.c $(HDRS) tests/check.h | $(BUILD)/tests
	$(CC) $(CFLAGS) $(MLP_CFLAGS) -c $< -o $@

$(BUILD)/obj $(BUILD)/tests:
	mkdir -p $@

# One relocatable object (ld -r) whose hidden symbols objcopy makes local: only mlp.h's functions stay global.
$(BUILD)/libmlp.a: $(LIB_OBJ)
	rm -f $@ $(BUILD)/libmlp.o
	$(LD) -r -o $(BUILD)/libmlp.o $^
	objcopy --localize-hidden $(BUILD)/libmlp.o
	ar rcs $@ $(BUILD)/libmlp.o

$(BUILD)/libmlpint.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/libmlpbase.a: $(BASE_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/libmlpstudy.a: $(STUDY_OBJ)
	rm -f $@
	ar rcs $@ $^

# The reference's published results are data (src/study/published.csv), compiled in as string literals.
$(BUILD)/gen/published.inc: src/study/published.csv
	@mkdir -p $(dir $@)
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $< > $@
$(BUILD)/obj/study/published.o: $(BUILD)/gen/published.inc
$(BUILD)/obj/study/published.o: MLP_CFLAGS += -I$(BUILD)/gen

TOOL_LIBS = $(BUILD)/libmlpstudy.a $(BUILD)/libmlpbase.a $(BUILD)/libmlp.a

$(BUILD)/mlp: $(wildcard tools/*.c) $(wildcard tools/*.h) $(TOOL_LIBS) $(HDRS)
	$(CC) $(CFLAGS) $(MLP_CFLAGS) -Itools $(wildcard tools/*.c) -o $@ $(TOOL_LIBS) $(LDFLAGS) $(LDLIBS)

$(BUILD)/mlp_tests: $(TEST_OBJ) $(BUILD)/libmlpstudy.a $(BUILD)/libmlpint.a
	$(CC) $(CFLAGS) $(MLP_CFLAGS) $(TEST_OBJ) -o $@ $(BUILD)/libmlpstudy.a $(BUILD)/libmlpint.a $(LDFLAGS) $(LDLIBS)

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
