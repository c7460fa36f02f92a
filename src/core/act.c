/*
 * act.c - activation functions as a table of named operators: names, parsing, and the double-precision
 * references (name_ref, name_ref_grad: the test oracles) of each row of act_table.h, from which act_ops[] is
 * generated. The float kernels of every path are in src/kernels (act_portable.c, vmath.h); the formulas and the
 * numerical choices are in act_table.h and act_portable.c.
 *
 * The references: every exponential is of a non-positive argument (sigmoid(v) = 1/(1+e) or e/(1+e), e = exp(-|v|);
 * s(1-s) = e/(1+e)^2; 1 - tanh^2 u = 4e/(1+e)^2 with e = exp(-2|u|)). GELU clamps u to +-GELU_CLAMP_D, beyond
 * which sigmoid(2z) is exactly 0 or 1 and its derivative exactly 0. SELU uses expm1(u) for u <= 0 with the
 * standard constants MLP_SELU_LAMBDA = 1.0507009873554805, MLP_SELU_ALPHA = 1.6732632423543772.
 */
#include "act_table.h"
#include "kernels.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------ constants */

/* In double, sigmoid(2z) saturates (exactly 0 or 1, derivative exactly 0) for |u| above ~23.5 (2|z| beyond
 * -ln of the smallest subnormal); clamping u there keeps u^3 finite for every double. */
#define GELU_CLAMP_D 40.0
#define TANH_CLAMP_D 512.0

/* ------------------------------------------------------------------ double references */

static double sigmoid_d(double u) {
    double e = exp(-fabs(u));
    return u >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}
static double sigmoid_grad_d(double u) {
    double e = exp(-fabs(u));
    return e / ((1.0 + e) * (1.0 + e));
}

static double relu_ref(double u) { return u > 0.0 ? u : 0.0; }
static double relu_ref_grad(double u) { return u > 0.0 ? 1.0 : 0.0; }

static double sigmoid_ref(double u) { return sigmoid_d(u); }
static double sigmoid_ref_grad(double u) { return sigmoid_grad_d(u); }

static double tanh_ref(double u) { return tanh(u); }
static double tanh_ref_grad(double u) {
    double e = exp(-2.0 * fmin(fabs(u), TANH_CLAMP_D));
    return 4.0 * e / ((1.0 + e) * (1.0 + e));
}

static double selu_ref(double u) {
    return u > 0.0 ? MLP_SELU_LAMBDA * u : MLP_SELU_LAMBDA * MLP_SELU_ALPHA * expm1(u);
}
static double selu_ref_grad(double u) {
    return u > 0.0 ? MLP_SELU_LAMBDA : MLP_SELU_LAMBDA * MLP_SELU_ALPHA * exp(u);
}

static double swish_ref(double u) { return u * sigmoid_d(u); }
static double swish_ref_grad(double u) { return sigmoid_d(u) + u * sigmoid_grad_d(u); }

static double gelu_ref(double u) {
    double v = fmin(fmax(u, -GELU_CLAMP_D), GELU_CLAMP_D);
    return u * sigmoid_d(mlp_gelu_2z(v));
}
static double gelu_ref_grad(double u) {
    double v = fmin(fmax(u, -GELU_CLAMP_D), GELU_CLAMP_D);
    double t = mlp_gelu_2z(v);
    return sigmoid_d(t) + 2.0 * MLP_GELU_C * v * (1.0 + MLP_GELU_A3 * v * v) * sigmoid_grad_d(t);
}

/* ------------------------------------------------------------------ the operator table */

typedef struct act_op {
    const char *name;
    double (*ref)(double u);
    double (*ref_grad)(double u);
} act_op;

/* Indexed by mlp_act: one entry per row of act_table.h (the formulas are there). */
static const act_op act_ops[MLP_ACT_COUNT] = {
#define ACT_OP(E, name) [MLP_ACT_##E] = {#name, name##_ref, name##_ref_grad},
    MLP_ACT_ROWS(ACT_OP)
#undef ACT_OP
};

static const act_op *act_op_of(mlp_act a) {
    return ((int)a >= 0 && (int)a < MLP_ACT_COUNT) ? &act_ops[a] : NULL;
}

/* ------------------------------------------------------------------ public API */

const char *mlp_act_name(mlp_act a) {
    const act_op *op = act_op_of(a);
    return op ? op->name : "?";
}

int mlp_act_parse(const char *name, mlp_act *out) {
    if (!name) return -1;
    for (int i = 0; i < MLP_ACT_COUNT; i++) {
        if (strcmp(name, act_ops[i].name) == 0) {
            if (out) *out = (mlp_act)i;
            return 0;
        }
    }
    return -1;
}

/* NaN for an out-of-range a. */
double mlp_act_ref(mlp_act a, double u) {
    const act_op *op = act_op_of(a);
    return op ? op->ref(u) : NAN;
}

double mlp_act_ref_grad(mlp_act a, double u) {
    const act_op *op = act_op_of(a);
    return op ? op->ref_grad(u) : NAN;
}
