# fuzz.mk - libFuzzer targets for the parsers (fuzz/fuzz_*.c), see docs/ROBUSTNESS.md.
#   make fuzz                     build every target, run each for FUZZ_SECONDS (default 10) seconds
#   make fuzz FUZZ_SECONDS=60     what .ci/run does
#   make fuzz FUZZ_TARGETS=idx    one target only
#   make fuzz-build               only build them ($(BUILD)/fuzz/fuzz_<target>)
#   make fuzz-seeds               rewrite the seed corpora fuzz/corpus/<target>/ (kept in the repository)
# Needs clang with libFuzzer (Debian: package libclang-rt-<version>-dev). The seed corpora are only read;
# what the fuzzer discovers goes to $(BUILD)/fuzz/corpus/<target>, crash inputs to $(BUILD)/fuzz/artifacts/.
# A target stops at the first crash, sanitizer report, leak, broken contract or single allocation above
# 64 MB (inputs are at most 4 kB: a bigger allocation means a header was trusted), and `make fuzz` fails.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 10
FUZZ_TARGETS ?= idx safetensors checkpoint json pgm png jpeg csv npy
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS   = -g -O1 $(FUZZ_SAN) $(filter-out -fPIC,$(MLP_CFLAGS))
FUZZ_LIB_OBJ  = $(LIB_SRC:src/%.c=$(FUZZ_DIR)/obj/%.o)

.PHONY: fuzz fuzz-build fuzz-seeds
.SECONDARY: $(FUZZ_LIB_OBJ)

$(FUZZ_DIR)/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_DIR)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_common.h $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_LIB_OBJ) -o $@ $(LDLIBS)

fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)

fuzz: fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_DIR)/corpus/$$t $(FUZZ_DIR)/artifacts; \
	    echo "== fuzz_$$t for $(FUZZ_SECONDS) s"; \
	    if ! $(FUZZ_DIR)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=64 \
	            -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/artifacts/$$t- \
	            $(FUZZ_DIR)/corpus/$$t fuzz/corpus/$$t > $(FUZZ_DIR)/$$t.log 2>&1; then \
	        tail -n 60 $(FUZZ_DIR)/$$t.log; echo "fuzz_$$t FAILED (log $(FUZZ_DIR)/$$t.log)"; exit 1; \
	    fi; \
	    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done)' $(FUZZ_DIR)/$$t.log | tr '\n' ' '; \
	    echo "corpus $$(ls $(FUZZ_DIR)/corpus/$$t | wc -l) files"; \
	done

$(BUILD)/make_seeds: fuzz/make_seeds.c fuzz/fuzz_common.h $(BUILD)/libmlpint.a
	$(CC) $(CFLAGS) $(MLP_CFLAGS) $< -o $@ $(BUILD)/libmlpint.a $(LDFLAGS) $(LDLIBS)

fuzz-seeds: $(BUILD)/make_seeds
	$(BUILD)/make_seeds fuzz/corpus

# The command-line fuzzer (fuzz/cli_fuzz.py): random command lines and mutated files against the real tool built
# with AddressSanitizer + UndefinedBehaviorSanitizer (build-san/mlp). Fails on a sanitizer report, a crash, a
# hang, an exit status outside {0,1,2,130,143} or a half-written run folder; failing cases go to
# build-san/clifuzz/failures/. CLI_FUZZ_SEED fixes the sequence (default: the time).
CLI_FUZZ_SECONDS ?= 75
CLI_FUZZ_SEED ?= $(shell date +%s)
.PHONY: fuzz-cli
fuzz-cli:
	$(MAKE) --no-print-directory SAN=1 build-san/mlp
	python3 fuzz/cli_fuzz.py --mlp build-san/mlp --seconds $(CLI_FUZZ_SECONDS) --seed $(CLI_FUZZ_SEED) --out build-san/clifuzz
