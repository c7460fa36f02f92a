/* runcfg.h - the run configuration, written and read in one place (runcfg.c). Internal. The library (model
 * files, checkpoints) and the tool (config.json) both use it, so it is also in build/libmlpbase.a beside
 * src/base; it knows the files' keys and text, not their containers, and calls only mlp.h's names and
 * defaults.
 *
 * Three files record how a network was made: a model file's __metadata__ (model_io.c), a checkpoint's
 * __metadata__ (checkpoint.c) and a run folder's config.json (the tool's train command, read back by --resume
 * and by the study's run reader). They share one table of fields, runcfg.c's `fields`: a key, a type, where the
 * value lives in rc_config, which files hold it, the range config.json accepts, and whether older files may
 * lack it (then it reads as mlp_train_cfg_default's value). Each field is written and read by the same code in
 * every file: metadata holds strings (floats as %.9g, which strtof reads back exactly), config.json typed JSON
 * values (floats as the shortest text strtof reads back exactly).
 *
 * ADDING A FIELD (a setting, or something a model must remember): one row in `fields` (runcfg.c), with the
 * groups of the files that hold it, and, for a new value, its member in rc_config. A type not in rc_type
 * needs its case in the four codec functions beside the table. Files written before the field existed load
 * when the row has RC_LATE (the value then stays what the caller set: the defaults).
 *
 * The architecture is not in the table: a model file's widths come from its tensor shapes (model_io.c checks
 * the "widths", "layers", "classes" and "activation" metadata against them), a checkpoint's must equal the
 * run's; rc_widths_text gives the one spelling both use. */
#ifndef MLP_RUNCFG_H
#define MLP_RUNCFG_H

#include "json.h"

typedef struct rc_config {
    mlp_train_cfg train;   /* the loss and its parameters are train.loss */
    mlp_scaling scaling;
    float *alpha_buf;      /* read focal_alpha values (train.loss.focal_alpha points here): release with rc_free */
} rc_config;

/* Frees what reading allocated (alpha_buf; train.loss.focal_alpha then dangles: reset it or stop using c). */
void rc_free(rc_config *c);

/* Which files hold a field */
enum {
    RC_MODEL = 1,   /* model file metadata */
    RC_CKPT = 2,    /* checkpoint metadata (compared with the run that continues) */
    RC_JSON = 4,    /* config.json */
};

/* The defaults of the reference run: mlp_train_cfg_default and mlp_scaling_default. */
rc_config rc_default(void);

/* "784,128,10" */
void rc_widths_text(const mlp_arch *arch, char *buf, size_t size);

/* Metadata (string to string; safetensors.h's st_meta_put and st_meta_lookup adapt a file to it). */
typedef void (*rc_put_fn)(void *user, const char *key, const char *value);
typedef const char *(*rc_get_fn)(const void *user, const char *key); /* NULL when absent */
/* put(user, key, value) for the fields of `file` (RC_MODEL or RC_CKPT), in table order; K classes (the length
 * of focal_alpha). */
void rc_meta_write(const rc_config *c, int K, unsigned file, rc_put_fn put, void *user);
/* Read them into c. Absent: an error "metadata has no ..." when required and the row is not RC_LATE, else c
 * keeps its value. Every value is checked (finite numbers, known names, K alpha values). */
mlp_status rc_meta_read(rc_get_fn get, const void *user, rc_config *c, int K, unsigned file, int required,
                        mlp_error *err);
/* The key of the first number of `file`'s fields in c that is a NaN or infinite (metadata holds finite numbers
 * only), or NULL. */
const char *rc_first_nonfinite(const rc_config *c, int K, unsigned file);
/* The first field of `file` in which a and b differ (floats bit for bit), said as "the checkpoint was written with
 * KEY A but this run has KEY B" (MLP_ERR_ARG); MLP_OK when they agree. `who` names a's file ("the checkpoint"). */
mlp_status rc_compare(const rc_config *a, const rc_config *b, int K, unsigned file, const char *who, mlp_error *err);

/* config.json: `,\n  "key": value` for the RC_JSON fields of `groups` (RC_JSON_TRAIN, RC_JSON_SCALING). */
enum { RC_JSON_TRAIN = 1, RC_JSON_SCALING = 2 };
void rc_json_write(sbuf *b, const rc_config *c, int K, unsigned groups);
/* Read the RC_JSON fields from root (text: the document, for floats read from their own digits) into c;
 * required unless RC_LATE, ranges checked; K <= 0: focal_alpha has one value per class (as many as it holds). Messages: "\"lr\" is 2e+06, outside the accepted range [0, 1e+06]". */
mlp_status rc_json_read(const json_value *root, const char *text, rc_config *c, int K, mlp_error *err);
/* The JSON text of key's default value (rc_default), for readers of run folders written before the field
 * existed; NULL when key is not an RC_LATE field of config.json. */
const char *rc_json_default(const char *key, char *buf, size_t size);

#endif
