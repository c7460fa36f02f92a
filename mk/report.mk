# mk/report.mk - the reference study in one command (included by the Makefile).
#
#   make report          train the 72 runs of the reference report (activations selu, swish, gelu x losses
#                        mse, ce, hinge, focal x hidden layers 128 and 128,32; seeds 1, 2, 3; 200 epochs; lr 1e-5,
#                        wd 0.1, momentum 0.9, summed gradients, batch 100, init std 0.01) into runs/study,
#                        then write docs/report/REPORT.md and its figures. Interrupt it at any time: the
#                        same command resumes (finished runs are skipped). See docs/STUDY.md.
#   make report-only     rebuild docs/report/ from the run folders, without training
#
#   STUDY_DIR=...   where the run folders go (default runs/study)
#   REPORT_DIR=...  where the report goes (default docs/report)
#   STUDY_ARGS=...  more `mlp sweep` options, e.g. STUDY_ARGS='--jobs 1' or STUDY_ARGS='--seeds 1'

STUDY_DIR  ?= runs/study
REPORT_DIR ?= docs/report
STUDY_ARGS ?=

# The reference hyperparameters, spelled out (they are also mlp train's defaults) so the study does not
# change if a default ever does. Three seeds per configuration, so that the report can tell a real difference
# between two configurations from seed-to-seed noise (the reference report ran one: seed 1 is that run).
STUDY_GRID = --act selu,swish,gelu --loss mse,ce,hinge,focal --hidden 128 --hidden 128,32 --seeds 1,2,3 \
             --epochs 200 --grad-reduction sum --lr 1e-5 --wd 0.1 --momentum 0.9 --batch 100 --init-std 0.01

.PHONY: report report-only

# The report is written even when some runs failed (it lists them as skipped); make still fails then.
report: $(BUILD)/mlp $(DATA)/mnist/.verified
	$(BUILD)/mlp sweep --data $(DATA)/mnist $(STUDY_GRID) --out $(STUDY_DIR) $(STUDY_ARGS); \
	status=$$?; \
	$(BUILD)/mlp report $(STUDY_DIR) -o $(REPORT_DIR) || exit 1; \
	exit $$status

report-only: $(BUILD)/mlp
	$(BUILD)/mlp report $(STUDY_DIR) -o $(REPORT_DIR)
