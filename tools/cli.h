/* cli.h - helpers shared by the tool's subcommands: fatal errors with the right exit status, option
 * parsing, names and paths. Only the tool prints or exits; the library never does. */
#ifndef MLP_CLI_H
#define MLP_CLI_H

#include "json.h"
#include "mlp.h"

#include <stdio.h>

#define EXIT_USAGE 2

extern const char *prog;

/* Print "mlp: error: ..." and exit 1 (a runtime failure: a file, the data, divergence). */
void die(const char *fmt, ...) MLP_PRINTF(1, 2);
/* Print "mlp: ..." and a pointer to --help, exit 2 (a usage error, found before any work). */
void die_usage(const char *fmt, ...) MLP_PRINTF(1, 2);
void die_err(const mlp_error *err);

/* Strict number parsing: the whole string, finite, within [lo, hi]; else a usage error naming opt. */
double parse_double(const char *opt, const char *s, double lo, double hi);
long parse_long(const char *opt, const char *s, long lo, long hi);
uint64_t parse_u64(const char *opt, const char *s);
size_t parse_size(const char *opt, const char *s); /* bytes: 65536, 512M, 4G (powers of 1024) */

/* Option iterator: accepts "--name value" and "--name=value"; "--" ends the options (what follows is
 * positional, even when it starts with '-'). Short forms of the common options are accepted wherever the
 * long one is (is(&o, "--out") matches -o): -o --out, -q --quiet, -e --epochs, -d --data, -t --threads,
 * -j --jobs, -s --seed, -k --top.
 * `mlp COMMAND --list-options` prints every option the command's parser compares against (each is()
 * call records its name) and exits 0: the tests check the man page and --help against it, and the bash
 * completion asks it, so neither can drift from the parser. */
typedef struct {
    int argc, i;
    char **argv;
    const char *name;  /* current option, without any "=value" */
    char namebuf[64];
    const char *inline_value;
    int rest;          /* after "--": everything is positional */
} opts;

int opts_next(opts *o);
const char *opts_value(opts *o);      /* the option's value, or a usage error when missing */
int is(const opts *o, const char *name);
int is_option(const opts *o);         /* looks like an option (and not after "--") */
/* strcmp(given, name) == 0, recorded for --list-options like is(): for tables of pass-through options. */
int opts_match(const char *given, const char *name);

mlp_act parse_act(const char *s);
mlp_loss parse_loss(const char *s);
mlp_kernels parse_kernels(const char *opt, const char *s);
mlp_kernels kernels_from_env(void);   /* $MLP_KERNELS or auto */
/* --focal-alpha's values (one, or one per class: the caller checks against the classes): a malloc'ed array */
float *parse_focal_alpha(const char *s, int *count);
const char *check_dataset(const char *s);
/* The dataset folder: --data, else $MLP_DATA/<dataset>, else data/<dataset>. */
void data_dir(char *buf, size_t size, const char *data_opt, const char *dataset);

/* die_err for a dataset that failed to load from dir: a missing file names `mlp fetch DATASET DIR`. */
void die_data(const mlp_error *err, const char *dataset, const char *dir);

void mkdir_p(const char *path);
void write_text_atomic(const char *dir, const char *name, const sbuf *b);

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_help(int argc, char **argv);
int cmd_fetch(int argc, char **argv);  /* mlp fetch DATASET [DIR] (cmd_fetch.c) */   /* mlp help TOPIC (cmd_help.c) */

#endif
