/* cmd_sweep.c - `mlp sweep`: train a grid of configurations, each as a child `mlp train` process.
 *
 * Every run is `mlp train --quiet ... --out GRID/<arch>_<act>_<loss>_s<seed>` started by fork + exec of this
 * same binary (/proc/self/exe), so a crash, a divergence or a bad option in one run cannot take the sweep
 * down; its stdout and stderr go to GRID/logs/<name>.log. Up to --jobs children run at once.
 *
 * Restarting the same command resumes: a FINISHED run folder (see src/study/report.h) made with the same
 * options is skipped; an unfinished one that holds a checkpoint and was made with the same options is
 * continued from it (`mlp train --resume DIR`: the final model is bitwise that of an uninterrupted run,
 * docs/ROBUSTNESS.md); any other unfinished or broken one is trained again from scratch (--force, after
 * removing its stale metrics.csv and model.safetensors). A finished run made with other options is not
 * touched: it is reported as a conflict (use another --out, or --force to redo it).
 *
 * A lock (fcntl) on GRID/.sweep.lock keeps two sweeps from training into the same folder at once.
 *
 * MPI (`make MPI=1`, then `mpirun -np P build-mpi/mlp sweep ...`; docs/MPI.md): the ranks share the work
 * through a queue kept by rank 0, the coordinator. Rank 0 alone takes the lock, looks at what the folder
 * holds and decides what is to be trained (so ranks on hosts with different views of a network file system
 * cannot disagree); every rank, rank 0 included, runs up to --jobs children as above, asks rank 0 for the
 * next run whenever a slot is free (rank 0 answers with a run of the plan, in plan order, or "nothing left")
 * and reports each result back. Rank 0 prints everything. Why a dynamic queue and not a static split (run i
 * to rank i % P): runs differ in cost (architectures, hosts of different speeds, and a restarted sweep whose
 * remaining runs are unevenly spread), and rank 0 sees each result as it comes, for the same progress lines
 * as a single-process sweep. The cost is two small messages per run, nothing beside a run of seconds or
 * hours. Which rank trains a run does not matter for its result: a seed fixes a run bit for bit (on the
 * same --kernels path). A rank that dies takes only its current runs with it: mpirun stops the job, the
 * children of every rank stop (they die with their parent), and the same command started again skips the
 * finished runs and trains the unfinished ones again, as after any interruption.
 */
#include "cli.h"
#include "mpi_util.h"
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

extern char **environ;

/* train options passed through to every run: name and whether it takes a value */
static const struct {
    const char *name;
    int has_value;
    int in_identity; /* part of what makes two runs the same (not --data, --threads: they do not change results) */
} pass_opts[] = {
    {"--data", 1, 0},        {"--dataset", 1, 1},        {"--hinge-margin", 1, 1}, {"--focal-gamma", 1, 1},
    {"--focal-alpha", 1, 1}, {"--grad-reduction", 1, 1}, {"--lr", 1, 1},           {"--wd", 1, 1},
    {"--momentum", 1, 1},    {"--batch", 1, 1},          {"--epochs", 1, 1},       {"--init-std", 1, 1},
    {"--no-shuffle", 0, 1},  {"--init", 1, 1},           {"--kernels", 1, 1},
    /* the training options of issue 12; with a comma-separated list each of these is a grid axis (AXIS_OPT) */
    {"--optimizer", 1, 1},   {"--nesterov", 0, 1},       {"--beta1", 1, 1},        {"--beta2", 1, 1},
    {"--eps", 1, 1},         {"--schedule", 1, 1},       {"--warmup-epochs", 1, 1}, {"--step-epochs", 1, 1},
    {"--step-gamma", 1, 1},  {"--min-lr", 1, 1},         {"--dropout", 1, 1},      {"--early-stop", 1, 1},
    {"--monitor", 1, 1},
};
#define N_PASS ((int)(sizeof pass_opts / sizeof *pass_opts))

/* Options whose comma-separated list (--lr 1e-3,1e-2) makes a grid axis: one run per value, named after it. */
static const char *const axis_opts[] = {"--optimizer", "--lr",        "--wd",          "--momentum",  "--batch",
                                        "--schedule",  "--dropout",   "--warmup-epochs", "--beta1",   "--beta2",
                                        "--eps",       "--step-epochs", "--step-gamma", "--min-lr",   "--early-stop",
                                        "--monitor",   "--grad-reduction", "--init-std"};
#define N_AXIS_OPTS ((int)(sizeof axis_opts / sizeof *axis_opts))
#define MAX_AXES 8

static int is_axis_opt(const char *name) {
    for (int i = 0; i < N_AXIS_OPTS; i++)
        if (!strcmp(axis_opts[i], name)) return 1;
    return 0;
}

static int pass_index(const char *name) {
    for (int i = 0; i < N_PASS; i++)
        if (opts_match(name, pass_opts[i].name)) return i;
    return -1;
}

typedef enum {
    S_TODO,        /* to train */
    S_DONE_BEFORE, /* finished earlier with the same options: skipped */
    S_CONFLICT,    /* holds something we must not overwrite */
    S_RUNNING,
    S_OK,
    S_FAILED,
    S_INTERRUPTED,
    S_NOT_STARTED
} run_status;

static const char *status_text(run_status s) {
    switch (s) {
    case S_TODO:
        return "to do";
    case S_DONE_BEFORE:
        return "skipped (finished earlier)";
    case S_CONFLICT:
        return "FAILED (in the way)";
    case S_RUNNING:
        return "running";
    case S_OK:
        return "done";
    case S_FAILED:
        return "FAILED";
    case S_INTERRUPTED:
        return "interrupted";
    case S_NOT_STARTED:
        return "not started";
    }
    return "?";
}

typedef struct srun {
    char name[256];
    char dir[4096];
    const char *act, *loss, *hidden;
    const char *seed;
    const char *axis_val[MAX_AXES]; /* this run's value on each extra axis (sweep.axis_opt) */
    run_status status;
    int rerun;     /* the folder holds an unfinished run: retrain it with --force */
    int resume;    /* the folder holds an unfinished run with a checkpoint, same options: continue it */
    char why[600]; /* failure, conflict or rerun reason */
    pid_t pid;
    double t_start;
    int epochs_seen; /* epochs in its metrics.csv at the last look */
    double test_acc, seconds;
    int epochs_done;
    int rank; /* MPI: the rank training it (-1: none yet) */
} srun;

typedef struct sweep {
    const char *out;
    char **acts, **losses, **hiddens, **seeds;
    int n_acts, n_losses, n_hiddens, n_seeds;
    char **pass; /* pass-through train options, normalized: "--name" [value] ... */
    int n_pass;
    /* extra grid axes: train options given a list (--optimizer sgd,adam) */
    const char *axis_opt[MAX_AXES];
    char **axis_vals[MAX_AXES];
    int axis_n[MAX_AXES], n_axes;
    int epochs; /* what each run asks for (for progress) */
    int jobs, threads, force, dry_run;
    srun *runs;
    int n_runs;
    char self[4096]; /* this binary */
    int tty;
    int rank, size;   /* MPI rank and ranks (0 and 1 without MPI) */
    int total_jobs;   /* jobs of all ranks together */
    char **child_env; /* MPI: the environment of children, without the launcher's variables (NULL: ours) */
} sweep;

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig) { stop_signal = sig; }

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Split "a,b,c" into a malloc'ed array of strings; refuses empty items and repeats. */
static int split_list(const char *opt, const char *s, char ***out) {
    int n = 1;
    for (const char *p = s; *p; p++) n += *p == ',';
    char **v = calloc((size_t)n, sizeof *v);
    char *copy = strdup(s);
    if (!v || !copy) die("out of memory");
    int k = 0;
    for (char *tok = copy, *next; tok; tok = next) {
        next = strchr(tok, ',');
        if (next) *next++ = '\0';
        if (!*tok) die_usage("%s: empty item in '%s'", opt, s);
        for (int j = 0; j < k; j++)
            if (!strcmp(v[j], tok)) die_usage("%s: '%s' is listed twice", opt, tok);
        v[k++] = tok;
    }
    *out = v;
    return k;
}

static void sweep_usage(FILE *f) {
    fprintf(f, "usage: mlp sweep --out DIR [--act LIST] [--loss LIST] [--hidden H]... [--seeds LIST] [--jobs N]\n"
               "                 [--threads N] [--force] [--dry-run] [train options]\n"
               "Train every combination of activations x losses x architectures x seeds, each as a child\n"
               "`mlp train` writing the run folder DIR/<arch>_<act>_<loss>_s<seed>. Start the same command again to\n"
               "resume: finished runs are skipped, unfinished ones continued from their checkpoint (or trained\n"
               "again). Defaults: the reference study.\n"
               "\n"
               "  --out DIR        the study folder (required)\n"
               "  --act LIST       activations, comma-separated (default selu,swish,gelu)\n"
               "  --loss LIST      losses (default mse,ce,hinge,focal)\n"
               "  --hidden H       one architecture's hidden widths, e.g. 128 or 128,32; repeat the option for\n"
               "                   several architectures (default: --hidden 128 --hidden 128,32)\n"
               "  --seeds LIST     seeds (default 1)\n"
               "  --jobs N         runs trained at once (default: the number of CPUs / --threads; under MPI, per\n"
               "                   rank: the CPUs of its host / (--threads x the ranks on that host))\n"
               "  --threads N      threads of each run (default 1)\n"
               "  --force          also retrain runs that are finished (or were made with other options)\n"
               "  --dry-run        show what would be trained, and stop\n"
               "  train options    passed to every run: --data --dataset --epochs --lr --wd --momentum --batch\n"
               "                   --grad-reduction --init-std --hinge-margin --focal-gamma --focal-alpha\n"
               "                   --no-shuffle --init --kernels --optimizer --nesterov --beta1 --beta2 --eps\n"
               "                   --schedule --warmup-epochs --step-epochs --step-gamma --min-lr --dropout\n"
               "                   --early-stop --monitor  (see mlp train --help)\n"
               "  grid axes        a comma-separated list for --optimizer --lr --wd --momentum --batch --schedule\n"
               "                   --dropout --warmup-epochs --beta1 --beta2 --eps --step-epochs --step-gamma\n"
               "                   --min-lr --early-stop --monitor --grad-reduction --init-std trains one run per\n"
               "                   value (every combination with the other axes), named ..._optimizer-adam_s1\n"
               "  --seed, --quiet, --json are refused: use --seeds; each run's output goes to DIR/logs/\n"
               "\n"
               "Logs: DIR/logs/<run>.log. Exit status 1 if any run failed (they are listed), 2 for usage errors.\n"
               "On a terminal a progress line shows the runs done, each running job's epoch and an ETA.\n"
               "MPI (build with make MPI=1): mpirun -np P mlp sweep ... shares the runs between P ranks, on one\n"
               "host or several (mpirun --hostfile); DIR must be a folder every host sees. See docs/MPI.md.\n");
}

static void parse_sweep(sweep *S, int argc, char **argv) {
    memset(S, 0, sizeof *S);
    S->threads = 1;
    S->epochs = mlp_train_cfg_default().epochs;
    const char *acts = "selu,swish,gelu", *losses = "mse,ce,hinge,focal", *seeds = "1";
    char **hid = calloc((size_t)argc + 2, sizeof *hid);
    S->pass = calloc((size_t)argc * 2 + 1, sizeof *S->pass);
    if (!hid || !S->pass) die("out of memory");
    int n_hid = 0;
    opts o = {argc, 0, argv, NULL, {0}, NULL, 0};
    while (opts_next(&o)) {
        if (is(&o, "--help") || is(&o, "-h")) {
            sweep_usage(stdout);
            exit(0);
        } else if (is(&o, "--out")) S->out = opts_value(&o);
        else if (is(&o, "--act")) acts = opts_value(&o);
        else if (is(&o, "--loss")) losses = opts_value(&o);
        else if (is(&o, "--hidden")) hid[n_hid++] = (char *)opts_value(&o);
        else if (is(&o, "--seeds")) seeds = opts_value(&o);
        else if (is(&o, "--jobs")) S->jobs = (int)parse_long(o.name, opts_value(&o), 1, 256);
        else if (is(&o, "--threads")) S->threads = (int)parse_long(o.name, opts_value(&o), 1, 256);
        else if (is(&o, "--force")) S->force = 1;
        else if (is(&o, "--dry-run")) S->dry_run = 1;
        else if (is(&o, "--seed")) die_usage("sweep: use --seeds LIST (one run per seed)");
        else if (is(&o, "--quiet") || is(&o, "--json"))
            die_usage("sweep: %s is not available: the sweep writes each run's output to DIR/logs/", o.name);
        else {
            int k = pass_index(o.name);
            if (k < 0) die_usage("sweep: unknown option '%s'", o.name);
            if (pass_opts[k].has_value && is_axis_opt(pass_opts[k].name)) {
                const char *v = opts_value(&o);
                if (strchr(v, ',')) { /* a list: one more axis of the grid */
                    for (int i = 0; i < S->n_axes; i++)
                        if (!strcmp(S->axis_opt[i], pass_opts[k].name))
                            die_usage("sweep: %s is given twice", pass_opts[k].name);
                    if (S->n_axes == MAX_AXES) die_usage("sweep: at most %d option lists (grid axes)", MAX_AXES);
                    S->axis_opt[S->n_axes] = pass_opts[k].name;
                    S->axis_n[S->n_axes] = split_list(o.name, v, &S->axis_vals[S->n_axes]);
                    S->n_axes++;
                    continue;
                }
                S->pass[S->n_pass++] = (char *)pass_opts[k].name;
                S->pass[S->n_pass++] = (char *)v;
                continue;
            }
            S->pass[S->n_pass++] = (char *)pass_opts[k].name;
            if (pass_opts[k].has_value) {
                const char *v = opts_value(&o);
                if (!strcmp(o.name, "--epochs")) S->epochs = (int)parse_long(o.name, v, 1, 1000000);
                if (!strcmp(o.name, "--dataset")) check_dataset(v);
                S->pass[S->n_pass++] = (char *)v;
            } else if (o.inline_value) die_usage("%s takes no value", o.name);
        }
    }
    if (!S->out) die_usage("sweep: --out DIR is required (the study folder; run the same command again to resume)");
    S->n_acts = split_list("--act", acts, &S->acts);
    S->n_losses = split_list("--loss", losses, &S->losses);
    S->n_seeds = split_list("--seeds", seeds, &S->seeds);
    for (int i = 0; i < S->n_acts; i++) parse_act(S->acts[i]);
    for (int i = 0; i < S->n_losses; i++) parse_loss(S->losses[i]);
    for (int i = 0; i < S->n_seeds; i++) parse_u64("--seeds", S->seeds[i]);
    if (n_hid == 0) hid[n_hid++] = "128", hid[n_hid++] = "128,32";
    for (int i = 0; i < n_hid; i++) {
        mlp_arch arch;
        mlp_error err;
        if (mlp_arch_parse(&arch, hid[i], 784, 10, MLP_ACT_RELU, &err)) die_usage("--hidden: %s", err.msg);
        for (int j = 0; j < i; j++)
            if (!strcmp(hid[i], hid[j])) die_usage("--hidden: '%s' is given twice", hid[i]);
    }
    S->hiddens = hid;
    S->n_hiddens = n_hid;
}

/* ------------------------------------------------------------------ the command line of one run */

/* The child's argv (NULL-terminated, malloc'ed array of pointers to existing strings). */
static char **child_argv(const sweep *S, const srun *r, char *threads_buf) {
    char **v = calloc((size_t)S->n_pass + 24, sizeof *v);
    if (!v) die("out of memory");
    int n = 0;
    v[n++] = "mlp";
    v[n++] = "train";
    v[n++] = "--quiet";
    if (r->resume) {
        /* the run's options come from its config.json; only where the data is and how fast may change */
        v[n++] = "--resume", v[n++] = (char *)r->dir;
        for (int i = 0; i < S->n_pass; i++)
            if (!strcmp(S->pass[i], "--data") || !strcmp(S->pass[i], "--kernels"))
                v[n++] = S->pass[i], v[n++] = S->pass[i + 1];
        v[n++] = "--threads", v[n++] = threads_buf;
        v[n] = NULL;
        return v;
    }
    v[n++] = "--act", v[n++] = (char *)r->act;
    v[n++] = "--loss", v[n++] = (char *)r->loss;
    v[n++] = "--hidden", v[n++] = (char *)r->hidden;
    v[n++] = "--seed", v[n++] = (char *)r->seed;
    for (int i = 0; i < S->n_axes; i++) v[n++] = (char *)S->axis_opt[i], v[n++] = (char *)r->axis_val[i];
    for (int i = 0; i < S->n_pass; i++) v[n++] = S->pass[i];
    v[n++] = "--threads", v[n++] = threads_buf;
    v[n++] = "--out", v[n++] = (char *)r->dir;
    if (r->rerun) v[n++] = "--force";
    v[n] = NULL;
    return v;
}

/* Options that identify a run's result, as sorted "--name=value" strings, from a train command line (without
 * the leading "train"). Options not in the pass-through table (act, loss, hidden, seed) count too. */
static int identity(char **argv, int argc, char ***out) {
    char **v = calloc((size_t)argc + 1, sizeof *v);
    if (!v) die("out of memory");
    int n = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2)) continue;
        char name[64];
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
        int k = pass_index(name);
        int flag = !strcmp(name, "--quiet") || !strcmp(name, "--json") || !strcmp(name, "--force") ||
                   (k >= 0 && !pass_opts[k].has_value);
        if (eq) val = eq + 1;
        else if (!flag && i + 1 < argc) val = argv[++i];
        int ignore = !strcmp(name, "--quiet") || !strcmp(name, "--json") || !strcmp(name, "--force") ||
                     !strcmp(name, "--out") || !strcmp(name, "--threads") || (k >= 0 && !pass_opts[k].in_identity);
        if (ignore) continue;
        size_t len = strlen(name) + (val ? strlen(val) : 0) + 2;
        v[n] = malloc(len);
        if (!v[n]) die("out of memory");
        snprintf(v[n], len, "%s%s%s", name, val ? "=" : "", val ? val : "");
        n++;
    }
    /* sort, keeping the last of repeated options (train keeps the last value) */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
            char *t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    *out = v;
    return n;
}

static void free_strs(char **v, int n) {
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* 1 if the finished run in `run` was made with the options this sweep would use; else the difference in why. */
static int same_options(const sweep *S, const srun *r, const mlp_run *run, char *why, size_t size) {
    char tb[16];
    snprintf(tb, sizeof tb, "%d", S->threads);
    srun fresh = *r; /* the command line of a fresh run, to compare with the run's */
    fresh.rerun = fresh.resume = 0;
    char **want = child_argv(S, &fresh, tb);
    int nw = 0;
    while (want[nw]) nw++;
    char **a, **b;
    int na = identity(want + 2, nw - 2, &a); /* skip "mlp train" */
    int skip = run->n_command > 0 && !strcmp(run->command[0], "train") ? 1 : 0;
    int nb = identity(run->command + skip, run->n_command - skip, &b);
    free(want);
    int same = na == nb;
    for (int i = 0; i < na && same; i++) same = !strcmp(a[i], b[i]);
    if (!same) {
        /* name the differences, option by option */
        char diff[400] = "";
        size_t used = 0;
        for (int pass = 0; pass < 2; pass++) {
            char **x = pass ? b : a, **y = pass ? a : b;
            int nx = pass ? nb : na, ny = pass ? na : nb;
            for (int i = 0; i < nx; i++) {
                size_t kl = strcspn(x[i], "=");
                const char *other = NULL;
                for (int j = 0; j < ny; j++)
                    if (!strncmp(x[i], y[j], kl) && (y[j][kl] == '=' || y[j][kl] == '\0')) other = y[j];
                if (other && !strcmp(other, x[i])) continue;
                if (pass && other) continue; /* reported in the first pass */
                const char *here = pass ? other : x[i], *there = pass ? x[i] : other;
                int w = snprintf(diff + used, sizeof diff - used, "%s%.*s: %s here, %s in the run", used ? "; " : "",
                                 (int)kl, x[i], here ? (here[kl] ? here + kl + 1 : "set") : "not set",
                                 there ? (there[kl] ? there + kl + 1 : "set") : "not set");
                if (w > 0 && (size_t)w < sizeof diff - used) used += (size_t)w;
            }
        }
        mlp_strf(why, size,
                 "holds a finished run made with other options (%s); use another --out, or --force to train it "
                 "again",
                 diff);
    }
    free_strs(a, na);
    free_strs(b, nb);
    return same;
}

/* ------------------------------------------------------------------ planning */

/* The runs, in plan order (every rank computes the same list from the same options). */
static void plan_names(sweep *S) {
    int n_combos = 1; /* combinations of the extra axes */
    for (int i = 0; i < S->n_axes; i++) n_combos *= S->axis_n[i];
    S->n_runs = S->n_hiddens * S->n_acts * S->n_losses * S->n_seeds * n_combos;
    S->runs = calloc((size_t)S->n_runs, sizeof *S->runs);
    if (!S->runs) die("out of memory");
    int k = 0;
    for (int h = 0; h < S->n_hiddens; h++)
        for (int a = 0; a < S->n_acts; a++)
            for (int l = 0; l < S->n_losses; l++)
                for (int c = 0; c < n_combos; c++)
                for (int s = 0; s < S->n_seeds; s++) {
                    srun *r = &S->runs[k++];
                    mlp_arch arch;
                    mlp_error err;
                    char archs[256];
                    if (mlp_arch_parse(&arch, S->hiddens[h], 784, 10, MLP_ACT_RELU, &err)) die_err(&err);
                    mlp_arch_format(&arch, archs, sizeof archs);
                    r->act = S->acts[a];
                    r->loss = S->losses[l];
                    r->hidden = S->hiddens[h];
                    r->seed = S->seeds[s];
                    char axes[200] = "";
                    for (int i = 0, rest = c; i < S->n_axes; rest /= S->axis_n[i], i++) {
                        r->axis_val[i] = S->axis_vals[i][rest % S->axis_n[i]];
                        const size_t used = strlen(axes);
                        snprintf(axes + used, sizeof axes - used, "_%s-%s", S->axis_opt[i] + 2, r->axis_val[i]);
                    }
                    mlp_strf(r->name, sizeof r->name, "%s_%s_%s%s_s%s", archs, r->act, r->loss, axes, r->seed);
                    snprintf(r->dir, sizeof r->dir, "%s/%s", S->out, r->name);
                    r->rank = -1;
                }
}

static int has_checkpoint(const char *dir) {
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", dir);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* What the study folder holds already: each run's status (rank 0 alone looks). */
static void probe(sweep *S) {
    for (int i = 0; i < S->n_runs; i++) {
        srun *r = &S->runs[i];
        mlp_run run;
        mlp_error why;
        mlp_run_state st = mlp_run_probe(r->dir, &run, &why);
        r->status = S_TODO;
        switch (st) {
        case MLP_RUN_ABSENT:
        case MLP_RUN_EMPTY:
            break;
        case MLP_RUN_FOREIGN:
            r->status = S_CONFLICT;
            mlp_strf(r->why, sizeof r->why, "%s: %s; remove it or use another --out", r->dir, why.msg);
            break;
        case MLP_RUN_UNFINISHED:
        case MLP_RUN_BROKEN:
            /* continued from its checkpoint when it has one and was made with the same options; else trained
             * again from scratch */
            if (st == MLP_RUN_UNFINISHED && has_checkpoint(r->dir) &&
                same_options(S, r, &run, r->why, sizeof r->why)) {
                r->resume = 1;
                mlp_strf(r->why, sizeof r->why, "%s; continued from its checkpoint", why.msg);
            } else {
                r->rerun = 1;
                snprintf(r->why, sizeof r->why, "%s", why.msg);
            }
            break;
        case MLP_RUN_FINISHED:
            if (S->force) {
                r->rerun = 1;
                snprintf(r->why, sizeof r->why, "finished, retrained (--force)");
            } else if (same_options(S, r, &run, r->why, sizeof r->why)) {
                r->status = S_DONE_BEFORE;
                r->test_acc = run.m[run.n - 1].test_acc;
                r->seconds = run.total_seconds;
                r->epochs_done = run.n;
            } else {
                r->status = S_CONFLICT;
            }
            break;
        }
        mlp_run_free(&run);
    }
}

/* ------------------------------------------------------------------ children */

static int count_epochs(const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int lines = 0, c;
    while ((c = getc(f)) != EOF) lines += c == '\n';
    fclose(f);
    return lines > 0 ? lines - 1 : 0;
}

/* 0, or -1 with the reason in r->why */
static int remove_stale(srun *r, const char *name) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", r->dir, name);
    if (unlink(path) == 0 || errno == ENOENT) return 0;
    mlp_strf(r->why, sizeof r->why, "cannot remove the stale %s: %s", path, strerror(errno));
    return -1;
}

/* Start run r as a child process; on a failure before the child exists, r is marked FAILED. */
static void start(sweep *S, srun *r) {
    char tb[16], log[4200];
    snprintf(tb, sizeof tb, "%d", S->threads);
    /* a stale model next to a new metrics.csv could pass for a finished run */
    if (r->rerun && (remove_stale(r, "model.safetensors") || remove_stale(r, "metrics.csv"))) {
        r->status = S_FAILED;
        return;
    }
    snprintf(log, sizeof log, "%s/logs/%s.log", S->out, r->name);
    char **argv = child_argv(S, r, tb);
    fflush(NULL);
    if (S->child_env) mpiu_cloexec_fds(); /* the child keeps none of MPI's sockets */
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        mlp_strf(r->why, sizeof r->why, "cannot start a process: %s", strerror(errno));
        r->status = S_FAILED;
        free(argv);
        return;
    }
    if (pid == 0) {
#ifdef __linux__
        /* if the sweep is killed outright, its children stop too */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(128 + SIGTERM);
#endif
        (void)parent;
        int fd = open(log, O_WRONLY | O_CREAT | (r->resume ? O_APPEND : O_TRUNC), 0644);
        int nul = open("/dev/null", O_RDONLY);
        if (fd >= 0) dup2(fd, STDOUT_FILENO), dup2(fd, STDERR_FILENO);
        if (nul >= 0) dup2(nul, STDIN_FILENO);
        if (fd > STDERR_FILENO) close(fd);
        if (nul > STDERR_FILENO) close(nul);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        if (S->child_env) environ = S->child_env; /* a plain `mlp train`: it must not join the MPI job */
        if (S->self[0]) execv(S->self, argv);
        execvp("mlp", argv); /* no /proc: the mlp on PATH */
        fprintf(stderr, "mlp sweep: cannot run %s: %s\n", S->self[0] ? S->self : "mlp", strerror(errno));
        _exit(127);
    }
    free(argv);
    r->pid = pid;
    r->status = S_RUNNING;
    r->t_start = now_s();
    r->epochs_seen = 0;
}

/* The last "mlp: error: ..." line (or last line) of a log, for the failure message. */
static void log_tail(const char *path, char *out, size_t size) {
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        if (!n) continue;
        /* prefer the tool's own last message ("mlp: error: ..." or "mlp: <usage problem>") */
        if (!strncmp(line, "mlp: ", 5) || strncmp(out, "mlp: ", 5)) snprintf(out, size, "%s", line);
    }
    fclose(f);
}

static void finished(sweep *S, srun *r, int wstatus) {
    char log[4200], tail[600];
    snprintf(log, sizeof log, "%s/logs/%s.log", S->out, r->name);
    r->pid = 0;
    if (stop_signal) {
        r->status = S_INTERRUPTED;
        snprintf(r->why, sizeof r->why, "stopped by signal; will be continued when the sweep is started again");
        return;
    }
    if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) {
        mlp_run run;
        mlp_error why;
        if (mlp_run_probe(r->dir, &run, &why) == MLP_RUN_FINISHED) {
            r->status = S_OK;
            r->test_acc = run.m[run.n - 1].test_acc;
            r->seconds = run.total_seconds;
            r->epochs_done = run.n;
        } else {
            r->status = S_FAILED;
            mlp_strf(r->why, sizeof r->why, "train exited 0 but %s: %s", r->dir, why.msg);
        }
        mlp_run_free(&run);
        return;
    }
    r->status = S_FAILED;
    log_tail(log, tail, sizeof tail);
    if (WIFEXITED(wstatus))
        mlp_strf(r->why, sizeof r->why, "exit status %d: %s (log %s)", WEXITSTATUS(wstatus),
                 tail[0] ? tail : "no output", log);
    else if (WIFSIGNALED(wstatus))
        mlp_strf(r->why, sizeof r->why, "killed by signal %d (%s) (log %s)", WTERMSIG(wstatus),
                 WTERMSIG(wstatus) == SIGSEGV ? "crash" : "signal", log);
    else mlp_strf(r->why, sizeof r->why, "ended abnormally (log %s)", log);
    r->epochs_done = count_epochs(r->dir);
}

/* ------------------------------------------------------------------ output */

static int term_width(void) {
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) return ws.ws_col;
    const char *c = getenv("COLUMNS");
    int w = c ? atoi(c) : 0;
    return w > 20 ? w : 100;
}

static void fmt_duration(char *buf, size_t size, double s) {
    if (!isfinite(s) || s < 0) snprintf(buf, size, "--");
    else if (s < 60) snprintf(buf, size, "%.0fs", s);
    else if (s < 3600) snprintf(buf, size, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, size, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

static void clear_progress(const sweep *S) {
    if (S->tty) fputs("\r\033[K", stderr);
}

static void progress_line(const sweep *S, double t0, int epochs_trained) {
    if (!S->tty) return;
    int done = 0, failed = 0, total = 0, remaining_epochs = 0, longest_left = 0;
    for (int i = 0; i < S->n_runs; i++) {
        const srun *r = &S->runs[i];
        if (r->status == S_DONE_BEFORE || r->status == S_CONFLICT) continue;
        total++;
        done += r->status == S_OK;
        failed += r->status == S_FAILED;
        if (r->status == S_TODO) remaining_epochs += S->epochs;
        if (r->status == S_RUNNING) {
            int left = S->epochs - r->epochs_seen;
            remaining_epochs += left;
            if (left > longest_left) longest_left = left;
        }
    }
    char line[2048], eta[32];
    int n = snprintf(line, sizeof line, "sweep: %d/%d done", done, total);
    if (failed) n += snprintf(line + n, sizeof line - (size_t)n, ", %d failed", failed);
    for (int i = 0; i < S->n_runs && n < (int)sizeof line - 100; i++) {
        const srun *r = &S->runs[i];
        if (r->status == S_RUNNING)
            n += snprintf(line + n, sizeof line - (size_t)n, " | %s %d/%d", r->name, r->epochs_seen, S->epochs);
    }
    /* ETA: the epochs left at the rate measured so far (all jobs together), but no less than the longest
     * running run alone needs at one job's rate */
    double el = now_s() - t0, rate = epochs_trained > 0 && el > 0 ? epochs_trained / el : 0;
    double jobs = S->total_jobs > 0 ? S->total_jobs : 1;
    double eta_s = rate > 0 ? fmax(remaining_epochs / rate, longest_left / (rate / jobs)) : NAN;
    fmt_duration(eta, sizeof eta, eta_s);
    snprintf(line + n, sizeof line - (size_t)n, " | ETA %s", eta);
    int w = term_width() - 1;
    if ((int)strlen(line) > w) line[w] = '\0';
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
}

static void report_run(const sweep *S, const srun *r, int k, int total) {
    clear_progress(S);
    char where[32] = ""; /* with MPI: which rank trained it */
    if (S->size > 1 && r->rank >= 0) snprintf(where, sizeof where, " (rank %d)", r->rank);
    if (r->status == S_OK)
        printf("[%*d/%d] done    %s: test acc %.4f, %.1f s%s\n", total >= 10 ? 2 : 1, k, total, r->name,
               r->test_acc, r->seconds, where);
    else
        printf("[%*d/%d] %-7s %s%s: %s\n", total >= 10 ? 2 : 1, k, total, status_text(r->status), r->name, where,
               r->why);
    fflush(stdout);
}

static void final_table(const sweep *S) {
    size_t w = 3;
    for (int i = 0; i < S->n_runs; i++)
        if (strlen(S->runs[i].name) > w) w = strlen(S->runs[i].name);
    printf("\n%-*s  %-26s  %7s  %8s  %9s\n", (int)w, "run", "status", "epochs", "test_acc", "time (s)");
    int n_ok = 0, n_before = 0, n_failed = 0, n_other = 0;
    for (int i = 0; i < S->n_runs; i++) {
        const srun *r = &S->runs[i];
        char ep[32] = "-", acc[32] = "-", sec[32] = "-";
        if (r->status == S_OK || r->status == S_DONE_BEFORE) {
            snprintf(ep, sizeof ep, "%d", r->epochs_done);
            snprintf(acc, sizeof acc, "%.4f", r->test_acc);
            snprintf(sec, sizeof sec, "%.1f", r->seconds);
        } else if (r->status == S_FAILED || r->status == S_INTERRUPTED) {
            snprintf(ep, sizeof ep, "%d/%d", count_epochs(r->dir), S->epochs);
        }
        printf("%-*s  %-26s  %7s  %8s  %9s\n", (int)w, r->name, status_text(r->status), ep, acc, sec);
        n_ok += r->status == S_OK;
        n_before += r->status == S_DONE_BEFORE;
        n_failed += r->status == S_FAILED || r->status == S_CONFLICT;
        n_other += r->status == S_INTERRUPTED || r->status == S_NOT_STARTED;
    }
    printf("\n%d run%s: %d trained, %d finished earlier, %d failed", S->n_runs, S->n_runs == 1 ? "" : "s", n_ok,
           n_before, n_failed);
    if (n_other) printf(", %d interrupted or not started", n_other);
    printf("; run folders in %s\n", S->out);
    if (n_failed) {
        fprintf(stderr, "%s: error: %d run%s failed:\n", prog, n_failed, n_failed == 1 ? "" : "s");
        for (int i = 0; i < S->n_runs; i++)
            if (S->runs[i].status == S_FAILED || S->runs[i].status == S_CONFLICT)
                fprintf(stderr, "  %s: %s\n", S->runs[i].name, S->runs[i].why);
    }
    fflush(stdout);
}

/* ------------------------------------------------------------------ the command */

static void free_sweep(sweep *S) {
    char **lists[3] = {S->acts, S->losses, S->seeds};
    for (int i = 0; i < 3; i++) {
        if (lists[i]) free(lists[i][0]); /* the one copy split_list cut into items */
        free(lists[i]);
    }
    for (int i = 0; i < S->n_axes; i++) {
        free(S->axis_vals[i][0]);
        free(S->axis_vals[i]);
    }
    free(S->hiddens);
    free(S->pass);
    free(S->runs);
    memset(S, 0, sizeof *S);
}

static int lock_study(const char *out) {
    char path[4200];
    snprintf(path, sizeof path, "%s/.sweep.lock", out);
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0) die("cannot create %s: %s", path, strerror(errno));
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        if (errno == EACCES || errno == EAGAIN) die("another sweep is already training into %s (lock %s)", out, path);
        die("cannot lock %s: %s", path, strerror(errno));
    }
    return fd; /* held until the process ends */
}


/* ------------------------------------------------------------------ the main loop, with or without MPI */

/* Messages between the ranks (raw bytes: one binary on one kind of machine, see mpi_util.h). */
enum { TAG_ASK = 1, TAG_GIVE, TAG_RESULT };
typedef struct {
    int32_t index, rerun, resume; /* index -1: nothing left to train */
} msg_give;
typedef struct {
    int32_t index, status, epochs_done, usage_error;
    double test_acc, seconds;
    char why[600];
} msg_result;

typedef struct loop {
    int todo;    /* runs to train, in all */
    int running; /* this rank's children */
    int finished_count, epochs_trained, usage_error; /* rank 0 */
    /* rank 0, the coordinator */
    int next;       /* where to look for the next run to hand out */
    int remote;     /* runs handed to other ranks and not reported back yet */
    int open_ranks; /* other ranks not yet told that nothing is left */
    char *told;     /* told[r]: rank r was told so */
    /* the other ranks */
    int asked;   /* requests not answered yet */
    int no_more; /* rank 0 said that nothing is left */
} loop;

/* Rank 0: the next run to train, in plan order; -1 when none is left or no more may start. */
static int next_run(sweep *S, loop *L) {
    if (stop_signal || L->usage_error) return -1;
    while (L->next < S->n_runs && S->runs[L->next].status != S_TODO) L->next++;
    return L->next < S->n_runs ? L->next : -1;
}

/* Rank 0: a run ended, here or on another rank (usage: train refused its options). */
static void run_ended(sweep *S, loop *L, srun *r, int epochs_before, int usage) {
    int now_epochs = r->status == S_OK ? r->epochs_done : count_epochs(r->dir);
    if (now_epochs > epochs_before) L->epochs_trained += now_epochs - epochs_before;
    if (usage && !L->usage_error) {
        L->usage_error = 1;
        snprintf(r->why + strlen(r->why), sizeof r->why - strlen(r->why),
                 "; train rejected the options, so no further runs are started");
    }
    if (r->status != S_INTERRUPTED) report_run(S, r, ++L->finished_count, L->todo);
}

/* Ranks > 0: tell rank 0 how a run ended. */
static void send_result(const sweep *S, const srun *r, int usage) {
    msg_result m;
    memset(&m, 0, sizeof m);
    m.index = (int32_t)(r - S->runs);
    m.status = (int32_t)r->status;
    m.epochs_done = r->epochs_done;
    m.usage_error = usage;
    m.test_acc = r->test_acc;
    m.seconds = r->seconds;
    snprintf(m.why, sizeof m.why, "%s", r->why);
    mpiu_send(0, TAG_RESULT, &m, (int)sizeof m);
}

/* Start run r on this rank. */
static void start_here(sweep *S, loop *L, srun *r) {
    r->rank = S->rank;
    start(S, r);
    if (r->status == S_RUNNING) L->running++;
    else if (S->rank == 0) run_ended(S, L, r, 0, 0);
    else send_result(S, r, 0);
}

/* Collect this rank's children that ended. */
static void reap(sweep *S, loop *L) {
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        for (int i = 0; i < S->n_runs; i++) {
            srun *r = &S->runs[i];
            if (r->status != S_RUNNING || r->pid != pid) continue;
            int before = r->epochs_seen;
            finished(S, r, st);
            L->running--;
            int usage = r->status == S_FAILED && WIFEXITED(st) && WEXITSTATUS(st) == EXIT_USAGE;
            if (S->rank == 0) run_ended(S, L, r, before, usage);
            else if (r->status != S_INTERRUPTED) send_result(S, r, usage);
        }
    }
}

/* Rank 0 with other ranks: answer their requests for work, take in their results. */
static void serve(sweep *S, loop *L) {
    union {
        int32_t ask;
        msg_result res;
    } m;
    int src, tag, n;
    while ((n = mpiu_poll(&src, &tag, &m, (int)sizeof m)) >= 0) {
        if (tag == TAG_ASK) {
            msg_give g = {-1, 0, 0};
            int i = next_run(S, L);
            if (i >= 0) {
                srun *r = &S->runs[i];
                r->status = S_RUNNING;
                r->rank = src;
                r->pid = 0;
                r->t_start = now_s();
                r->epochs_seen = 0;
                g.index = i;
                g.rerun = r->rerun;
                g.resume = r->resume;
                L->remote++;
            } else if (!L->told[src]) {
                L->told[src] = 1;
                L->open_ranks--;
            }
            mpiu_send(src, TAG_GIVE, &g, (int)sizeof g);
        } else if (tag == TAG_RESULT && n == (int)sizeof m.res && m.res.index >= 0 && m.res.index < S->n_runs) {
            srun *r = &S->runs[m.res.index];
            int before = r->epochs_seen;
            r->status = (run_status)m.res.status;
            r->epochs_done = m.res.epochs_done;
            r->test_acc = m.res.test_acc;
            r->seconds = m.res.seconds;
            m.res.why[sizeof m.res.why - 1] = '\0';
            snprintf(r->why, sizeof r->why, "%s", m.res.why);
            L->remote--;
            run_ended(S, L, r, before, m.res.usage_error);
        } else {
            fprintf(stderr, "%s: internal error: unexpected message (tag %d, %d bytes) from rank %d\n", prog, tag, n,
                    src);
            mpiu_abort(1);
        }
    }
}

/* Ranks > 0: ask rank 0 for a run for each free slot, start what it gives. */
static void work(sweep *S, loop *L) {
    while (!stop_signal && !L->no_more && L->running + L->asked < S->jobs) {
        int32_t ask = 0;
        mpiu_send(0, TAG_ASK, &ask, (int)sizeof ask);
        L->asked++;
    }
    msg_give g;
    int src, tag;
    while (mpiu_poll(&src, &tag, &g, (int)sizeof g) >= 0) {
        if (tag != TAG_GIVE || g.index >= S->n_runs) {
            fprintf(stderr, "%s: internal error: unexpected message (tag %d) from rank %d\n", prog, tag, src);
            mpiu_abort(1);
        }
        L->asked--;
        if (g.index < 0) L->no_more = 1;
        else if (!stop_signal) {
            S->runs[g.index].rerun = g.rerun;
            S->runs[g.index].resume = g.resume;
            start_here(S, L, &S->runs[g.index]);
        }
    }
}

/* A fingerprint of the plan (every run's command line), so that ranks started with different options
 * (mpirun's A : B form) are refused instead of training a mix. FNV-1a. */
static uint64_t plan_hash(const sweep *S) {
    uint64_t h = 1469598103934665603ull;
    char tb[16];
    snprintf(tb, sizeof tb, "%d", S->threads);
    for (int i = 0; i < S->n_runs; i++) {
        char **v = child_argv(S, &S->runs[i], tb);
        for (int k = 0; v[k]; k++)
            for (const char *p = v[k];; p++) {
                h = (h ^ (uint8_t)*p) * 1099511628211ull;
                if (!*p) break;
            }
        free(v);
    }
    return h;
}

int cmd_sweep(int argc, char **argv) {
    sweep S;
    /* every rank parses the same command line; only rank 0 may print a usage error or the help */
    const int quiet_rank = mpiu_env_rank() > 0;
    if (quiet_rank) mpiu_silence(1);
    parse_sweep(&S, argc - 1, argv + 1);
    if (quiet_rank) mpiu_silence(0);
    mpiu_init();
    S.rank = mpiu_rank();
    S.size = mpiu_size();
    static char rank_prog[32];
    if (S.rank > 0) {
        snprintf(rank_prog, sizeof rank_prog, "mlp (rank %d)", S.rank);
        prog = rank_prog;
    }
    S.tty = S.rank == 0 && isatty(STDERR_FILENO);
    ssize_t len = readlink("/proc/self/exe", S.self, sizeof S.self - 1);
    S.self[len > 0 ? len : 0] = '\0';
    S.child_env = mpiu_child_env();

    if (S.rank == 0) {
        struct stat st;
        if (stat(S.out, &st) == 0 && !S_ISDIR(st.st_mode)) die("--out %s exists and is not a folder", S.out);
        if (!S.dry_run) {
            char logs[4200];
            mkdir_p(S.out);
            snprintf(logs, sizeof logs, "%s/logs", S.out);
            mkdir_p(logs);
            lock_study(S.out); /* one lock for the whole job: the other ranks train only what rank 0 hands out */
        }
    }
    plan_names(&S);
    const uint64_t hash = plan_hash(&S); /* before probe(), which adds --force to the runs to train again */
    if (S.rank == 0) probe(&S);

    int todo = 0, before = 0, conflicts = 0, reruns = 0, resumes = 0;
    for (int i = 0; i < S.n_runs; i++) {
        todo += S.runs[i].status == S_TODO;
        before += S.runs[i].status == S_DONE_BEFORE;
        conflicts += S.runs[i].status == S_CONFLICT;
        reruns += S.runs[i].status == S_TODO && S.runs[i].rerun;
        resumes += S.runs[i].status == S_TODO && S.runs[i].resume;
    }
    if (S.size > 1) {
        /* the ranks agree on the plan, and learn how many runs are to be trained */
        struct {
            uint64_t hash;
            int32_t todo;
        } agree = {hash, todo};
        mpiu_bcast(&agree, (int)sizeof agree, 0);
        if (agree.hash != hash)
            die("this rank was started with other sweep options than rank 0; every rank must run the same command");
        todo = agree.todo;
    }
    /* Default parallelism: one single-threaded run per CPU this process may use (its affinity mask: a rank
     * that mpirun bound to one core runs its children on that core, which inherit the binding; with MPI,
     * also no more than its share of the host's CPUs). Measured on the 2-core machine (docs/STUDY.md):
     * 2 jobs x 1 thread trained 1.3-1.6x the epochs per second of 1 job x 2 threads (3 paired measurements),
     * since the small per-batch matrix products (100 x 784 x 128) gain little from a second thread while two
     * whole runs share nothing but memory bandwidth. */
    const int cpus = mpiu_cpus(); /* the affinity mask (mpirun binds ranks to cores), its share of the host */
    const int jobs_given = S.jobs > 0;
    if (S.jobs == 0) {
        S.jobs = cpus / S.threads;
        if (S.jobs < 1) S.jobs = 1;
    }
    if (S.jobs > todo && todo > 0) S.jobs = todo;
    int *jobs_of = calloc((size_t)S.size, sizeof *jobs_of);
    if (!jobs_of) die("out of memory");
    mpiu_gather_int(S.jobs, jobs_of);
    S.total_jobs = 0;
    int same_jobs = 1;
    for (int r = 0; r < S.size && S.rank == 0; r++) {
        S.total_jobs += jobs_of[r];
        same_jobs &= jobs_of[r] == jobs_of[0];
    }
    free(jobs_of);
    if (S.rank > 0 && S.dry_run) {
        free_sweep(&S);
        mpiu_finalize();
        return 0;
    }

    if (S.rank == 0) {
        char axes[400] = "";
        for (int i = 0; i < S.n_axes; i++) {
            const size_t used = strlen(axes);
            snprintf(axes + used, sizeof axes - used, " x %d %s", S.axis_n[i], S.axis_opt[i] + 2);
        }
        printf("sweep: %d run%s (%d architecture%s x %d activation%s x %d loss%s%s x %d seed%s), %d epochs each, "
               "into %s\n",
               S.n_runs, S.n_runs == 1 ? "" : "s", S.n_hiddens, S.n_hiddens == 1 ? "" : "s", S.n_acts,
               S.n_acts == 1 ? "" : "s", S.n_losses, S.n_losses == 1 ? "" : "es", axes, S.n_seeds,
               S.n_seeds == 1 ? "" : "s", S.epochs, S.out);
        char ranks[96] = "";
        if (S.size > 1 && same_jobs) snprintf(ranks, sizeof ranks, "%d MPI ranks x ", S.size);
        else if (S.size > 1) snprintf(ranks, sizeof ranks, "%d MPI ranks, %d jobs in all, ", S.size, S.total_jobs);
        printf("       %d to train (%d of them unfinished before: %d continued from a checkpoint, %d trained again), "
               "%d finished earlier, %d in the way; %s%d job%s x %d thread%s\n",
               todo, reruns + resumes, resumes, reruns, before, conflicts, ranks, S.jobs, S.jobs == 1 ? "" : "s",
               S.threads, S.threads == 1 ? "" : "s");
        for (int i = 0; i < S.n_runs; i++)
            if (S.runs[i].status == S_CONFLICT) fprintf(stderr, "%s: %s: %s\n", prog, S.runs[i].name, S.runs[i].why);
        if (jobs_given && S.jobs * S.threads > cpus && todo > 0)
            fprintf(stderr, "%s: note: %d job%s x %d thread%s share %d CPU%s%s\n", prog, S.jobs, S.jobs == 1 ? "" : "s",
                    S.threads, S.threads == 1 ? "" : "s", cpus, cpus == 1 ? "" : "s",
                    S.size > 1 ? " (mpirun binds each rank to a core by default: mpirun --bind-to none lets a rank's "
                                 "jobs use more)"
                               : "");
    }
    if (S.dry_run) {
        for (int i = 0; i < S.n_runs; i++) {
            const srun *r = &S.runs[i];
            const char *how = r->resume ? " (continued: " : r->rerun ? " (again: " : NULL;
            printf("  %-40s %s%s%s%s\n", r->name, status_text(r->status), how ? how : "", how ? r->why : "",
                   how ? ")" : "");
        }
        free_sweep(&S);
        mpiu_finalize();
        return conflicts ? 1 : 0;
    }
    fflush(stdout);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    const double t0 = now_s();
    loop L;
    memset(&L, 0, sizeof L);
    L.todo = todo;
    L.open_ranks = S.rank == 0 ? S.size - 1 : 0;
    L.told = calloc((size_t)S.size, 1);
    if (!L.told) die("out of memory");
    double last_draw = 0;
    for (;;) {
        if (S.rank == 0) {
            int i;
            while (L.running < S.jobs && (i = next_run(&S, &L)) >= 0) start_here(&S, &L, &S.runs[i]);
            if (S.size > 1) serve(&S, &L);
            if (L.running == 0 && L.remote == 0 && L.open_ranks == 0) break;
        } else {
            work(&S, &L);
            if (L.running == 0 && L.no_more && L.asked == 0) break;
        }
        reap(&S, &L);
        if (stop_signal) {
            /* forward the stop to the children (a terminal's Ctrl-C reached them already) and wait */
            int st;
            pid_t pid;
            for (int i = 0; i < S.n_runs; i++)
                if (S.runs[i].status == S_RUNNING && S.runs[i].pid > 0) kill(S.runs[i].pid, SIGTERM);
            while (L.running > 0 && (pid = waitpid(-1, &st, 0)) > 0)
                for (int i = 0; i < S.n_runs; i++)
                    if (S.runs[i].status == S_RUNNING && S.runs[i].pid == pid) {
                        finished(&S, &S.runs[i], st);
                        L.running--;
                    }
            break;
        }
        /* progress: epochs from each running job's metrics.csv (with MPI, the other ranks' runs too: the
         * study folder is shared) */
        double t = now_s();
        if (S.rank == 0 && t - last_draw >= 0.5) {
            for (int i = 0; i < S.n_runs; i++) {
                srun *r = &S.runs[i];
                if (r->status != S_RUNNING) continue;
                int e = count_epochs(r->dir);
                if (e > r->epochs_seen) L.epochs_trained += e - r->epochs_seen, r->epochs_seen = e;
            }
            progress_line(&S, t0, L.epochs_trained);
            last_draw = t;
        }
        /* with MPI a shorter nap: a free slot waits for rank 0's answer, and rank 0 answers between naps */
        struct timespec nap = {0, (S.size > 1 ? 20 : 100) * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    free(L.told);
    if (S.rank > 0) {
        /* stopped: exit without MPI_Finalize, which would wait for the other ranks; mpirun ends the job */
        free_sweep(&S);
        if (stop_signal) return 128 + stop_signal;
        mpiu_finalize();
        return 0;
    }
    clear_progress(&S);
    for (int i = 0; i < S.n_runs; i++) {
        srun *r = &S.runs[i];
        if (r->status == S_TODO) r->status = S_NOT_STARTED;
        if (r->status == S_RUNNING) { /* another rank's run, when the sweep was stopped */
            r->status = S_INTERRUPTED;
            snprintf(r->why, sizeof r->why, "stopped on rank %d; will be retrained when the sweep is started again",
                     r->rank);
        }
    }
    final_table(&S);
    char el[32];
    fmt_duration(el, sizeof el, now_s() - t0);
    printf("wall time %s\n", el);
    int failed = 0;
    for (int i = 0; i < S.n_runs; i++) failed += S.runs[i].status == S_FAILED || S.runs[i].status == S_CONFLICT;
    free_sweep(&S);
    fflush(stdout);
    if (stop_signal) {
        fprintf(stderr, "%s: interrupted (signal %d); start the same command again to finish the sweep\n", prog,
                (int)stop_signal);
        return 128 + stop_signal;
    }
    mpiu_finalize();
    return failed ? 1 : 0;
}
