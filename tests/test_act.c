/* test_act.c - activations: names, double references against independent formulas and finite
 * differences, float forward/backward against the references, aliasing, and stability at huge |u|. */
#include "check.h"
#include "mlp.h"

#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Inputs every check visits: 0, tiny, moderate, large and beyond float's exp range. */
static const float act_grid[] = {
    0.0f,  1e-8f,  -1e-8f,  0.5f,  -0.5f,  1.0f,  -1.0f,  3.0f,   -3.0f,   20.0f,  -20.0f,
    88.0f, -88.0f, 100.0f,  -100.0f, 1000.0f, -1000.0f, 0.75f, -0.75f, 1.278f, -1.278f, 7.5f, -7.5f,
};
#define ACT_GRID_N (sizeof act_grid / sizeof act_grid[0])

/* Float results are compared with a relative tolerance; below FLT_MIN (1.2e-38) floats are subnormal
 * and only absolute accuracy is possible, hence the tiny absolute floor. */
#define ACT_REL_TOL 1e-6
#define ACT_ABS_FLOOR 1e-40

static int close_rel(double got, double want, double rel, double abs_floor) {
    return isfinite(got) && isfinite(want) && fabs(got - want) <= rel * fabs(want) + abs_floor;
}

/* Deterministic uniform in [lo, hi) (a small LCG: the tests do not depend on rng.c). */
static double act_uniform(unsigned long long *state, double lo, double hi) {
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (double)(*state >> 11) / 9007199254740992.0;
}

TEST(act_names_round_trip) {
    static const char *const expected[MLP_ACT_COUNT] = {"relu", "sigmoid", "tanh", "selu", "swish", "gelu"};
    for (int i = 0; i < MLP_ACT_COUNT; i++) {
        mlp_act a = MLP_ACT_COUNT;
        CHECK(strcmp(mlp_act_name((mlp_act)i), expected[i]) == 0);
        CHECK_INT(mlp_act_parse(expected[i], &a), 0);
        CHECK_INT(a, i);
    }
    mlp_act a = MLP_ACT_GELU;
    CHECK_INT(mlp_act_parse("softplus", &a), -1);
    CHECK_INT(mlp_act_parse("", &a), -1);
    CHECK_INT(mlp_act_parse("RELU", &a), -1);
    CHECK_INT(mlp_act_parse("gelu ", &a), -1);
    CHECK_INT(mlp_act_parse(NULL, &a), -1);
    CHECK_INT(a, MLP_ACT_GELU); /* untouched on failure */
    CHECK(strcmp(mlp_act_name(MLP_ACT_COUNT), "?") == 0);
    CHECK(strcmp(mlp_act_name((mlp_act)-1), "?") == 0);
    CHECK(isnan(mlp_act_ref(MLP_ACT_COUNT, 1.0)));
    CHECK(isnan(mlp_act_ref_grad(MLP_ACT_COUNT, 1.0)));
}

/* Values computed by hand / with the textbook formulas (Python math, double):
 *   sigmoid(1) = 1/(1+e^-1)                                  = 0.7310585786300049
 *   gelu(1)    = 0.5(1 + tanh(sqrt(2/pi)(1 + 0.044715)))     = 0.8411919906082768
 *   gelu(-1)   = -0.5(1 - tanh(sqrt(2/pi) 1.044715))         = -0.15880800939172324
 *   gelu(2)    = (1 + tanh(sqrt(2/pi)(2 + 0.35772)))         = 1.954597694087775
 *   selu(-1)   = 1.0507009873554805 * 1.6732632423543772 (e^-1 - 1) = -1.1113307378125625
 *   selu'(0)   = lambda * alpha (the u <= 0 branch)          = 1.7580993408473766 */
TEST(act_ref_known_values) {
    CHECK_NEAR(mlp_act_ref(MLP_ACT_SIGMOID, 1.0), 0.7310585786300049, 1e-15);
    CHECK_NEAR(mlp_act_ref(MLP_ACT_SIGMOID, 0.0), 0.5, 0.0);
    CHECK_NEAR(mlp_act_ref(MLP_ACT_GELU, 1.0), 0.8411919906082768, 1e-15);
    CHECK_NEAR(mlp_act_ref(MLP_ACT_GELU, -1.0), -0.15880800939172324, 1e-15);
    CHECK_NEAR(mlp_act_ref(MLP_ACT_GELU, 2.0), 1.954597694087775, 1e-14);
    CHECK_NEAR(mlp_act_ref(MLP_ACT_SWISH, 1.0), 0.7310585786300049, 1e-15);
    CHECK_NEAR(mlp_act_ref(MLP_ACT_SELU, -1.0), -1.1113307378125625, 1e-15);
    CHECK_NEAR(mlp_act_ref(MLP_ACT_SELU, 2.0), 2.0 * 1.0507009873554805, 1e-15);
    CHECK_NEAR(mlp_act_ref_grad(MLP_ACT_SELU, 0.0), 1.7580993408473766, 1e-15);
    CHECK_NEAR(mlp_act_ref_grad(MLP_ACT_SELU, 0.5), 1.0507009873554805, 0.0);
    CHECK_NEAR(mlp_act_ref(MLP_ACT_RELU, -2.5), 0.0, 0.0);
    CHECK_NEAR(mlp_act_ref(MLP_ACT_RELU, 2.5), 2.5, 0.0);
    CHECK_NEAR(mlp_act_ref_grad(MLP_ACT_RELU, 0.0), 0.0, 0.0);
    CHECK_NEAR(mlp_act_ref_grad(MLP_ACT_SIGMOID, 0.0), 0.25, 1e-16);
    CHECK_NEAR(mlp_act_ref_grad(MLP_ACT_TANH, 0.0), 1.0, 1e-16);
    CHECK_NEAR(mlp_act_ref_grad(MLP_ACT_SWISH, 0.0), 0.5, 1e-16);
    CHECK_NEAR(mlp_act_ref_grad(MLP_ACT_GELU, 0.0), 0.5, 1e-16);
}

/* The stable references agree with the textbook formulas where those are themselves accurate. */
TEST(act_ref_matches_textbook_formulas) {
    const double c = sqrt(2.0 / acos(-1.0));
    for (double u = -8.0; u <= 8.0; u += 0.0625) {
        double sig = 1.0 / (1.0 + exp(-u));
        double z = c * (u + 0.044715 * u * u * u);
        double gelu = 0.5 * u * (1.0 + tanh(z));
        double gelu_grad = 0.5 * (1.0 + tanh(z)) +
                           0.5 * u * (1.0 - tanh(z) * tanh(z)) * c * (1.0 + 0.134145 * u * u);
        CHECK_NEAR(mlp_act_ref(MLP_ACT_SIGMOID, u), sig, 1e-15);
        CHECK_NEAR(mlp_act_ref_grad(MLP_ACT_SIGMOID, u), sig * (1.0 - sig), 1e-15);
        CHECK_NEAR(mlp_act_ref(MLP_ACT_TANH, u), tanh(u), 1e-15);
        CHECK_NEAR(mlp_act_ref_grad(MLP_ACT_TANH, u), 1.0 - tanh(u) * tanh(u), 1e-15);
        CHECK_NEAR(mlp_act_ref(MLP_ACT_SWISH, u), u * sig, 1e-14);
        CHECK_NEAR(mlp_act_ref_grad(MLP_ACT_SWISH, u), sig + u * sig * (1.0 - sig), 1e-14);
        CHECK_NEAR(mlp_act_ref(MLP_ACT_GELU, u), gelu, 1e-14);
        CHECK_NEAR(mlp_act_ref_grad(MLP_ACT_GELU, u), gelu_grad, 1e-14);
        double selu = u > 0 ? MLP_SELU_LAMBDA * u : MLP_SELU_LAMBDA * MLP_SELU_ALPHA * (exp(u) - 1.0);
        CHECK_NEAR(mlp_act_ref(MLP_ACT_SELU, u), selu, 1e-14);
    }
}

/* Central differences in double: (f(u+h) - f(u-h)) / 2h, error O(h^2 f''') + O(eps |f| / h). */
static void check_ref_grad_fd(mlp_act a, double u) {
    double h = 1e-5 * fmax(1.0, fabs(u) * 1e-2);
    if ((a == MLP_ACT_RELU || a == MLP_ACT_SELU) && fabs(u) < 4.0 * h) return; /* kink at 0 */
    double fd = (mlp_act_ref(a, u + h) - mlp_act_ref(a, u - h)) / (2.0 * h);
    double g = mlp_act_ref_grad(a, u);
    double tol = 1e-7 * (1.0 + fabs(g)) + 1e-16 * fabs(mlp_act_ref(a, u)) / h;
    CHECK_MSG(isfinite(g) && fabs(fd - g) <= tol, "%s'(%.9g): ref_grad %.12g, finite difference %.12g",
              mlp_act_name(a), u, g, fd);
}

TEST(act_ref_grad_matches_finite_differences) {
    unsigned long long state = 12345;
    for (int a = 0; a < MLP_ACT_COUNT; a++) {
        for (size_t i = 0; i < ACT_GRID_N; i++) check_ref_grad_fd((mlp_act)a, act_grid[i]);
        static const double extra[] = {2.0, -2.0, 5.0, -5.0, 10.0, -10.0, 30.0, -30.0, 50.0, -50.0, 500.0, -500.0};
        for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) check_ref_grad_fd((mlp_act)a, extra[i]);
        for (int i = 0; i < 200; i++) check_ref_grad_fd((mlp_act)a, act_uniform(&state, -12.0, 12.0));
    }
}

/* Float forward vs the double reference, on the grid and on random points. */
TEST(act_forward_matches_ref) {
    enum { N_RANDOM = 2000 };
    size_t n = ACT_GRID_N + N_RANDOM;
    float *u = malloc(n * sizeof *u), *out = malloc(n * sizeof *out);
    unsigned long long state = 777;
    CHECK(u && out);
    if (!u || !out) goto done;
    memcpy(u, act_grid, sizeof act_grid);
    for (size_t i = ACT_GRID_N; i < n; i++) u[i] = (float)act_uniform(&state, -30.0, 30.0);
    for (int a = 0; a < MLP_ACT_COUNT; a++) {
        int bad = 0;
        mlp_act_forward((mlp_act)a, out, u, n);
        for (size_t i = 0; i < n && bad < 5; i++) {
            double want = mlp_act_ref((mlp_act)a, u[i]);
            if (!close_rel(out[i], want, ACT_REL_TOL, ACT_ABS_FLOOR)) {
                bad++;
                CHECK_MSG(0, "%s(%.9g): float %.9g, ref %.9g", mlp_act_name((mlp_act)a), u[i], out[i], want);
            }
        }
    }
done:
    free(u);
    free(out);
}

/* Float backward vs ref_grad * dout. swish' and gelu' cross zero (near u = -1.28 and u = -0.75) as the
 * sum of two O(1) terms, where only absolute accuracy ~ eps * |dout| is possible. */
TEST(act_backward_matches_ref_grad) {
    enum { N_RANDOM = 2000 };
    size_t n = ACT_GRID_N + N_RANDOM;
    float *u = malloc(n * sizeof *u), *dout = malloc(n * sizeof *dout), *du = malloc(n * sizeof *du);
    unsigned long long state = 4242;
    CHECK(u && dout && du);
    if (!u || !dout || !du) goto done;
    memcpy(u, act_grid, sizeof act_grid);
    for (size_t i = ACT_GRID_N; i < n; i++) u[i] = (float)act_uniform(&state, -30.0, 30.0);
    for (size_t i = 0; i < n; i++) dout[i] = (float)act_uniform(&state, -3.0, 3.0);
    for (int a = 0; a < MLP_ACT_COUNT; a++) {
        int bad = 0;
        int cancels = a == MLP_ACT_SWISH || a == MLP_ACT_GELU;
        mlp_act_backward((mlp_act)a, du, dout, u, n);
        for (size_t i = 0; i < n && bad < 5; i++) {
            double want = (double)dout[i] * mlp_act_ref_grad((mlp_act)a, u[i]);
            double floor_abs = cancels ? 2e-7 * fabs(dout[i]) : ACT_ABS_FLOOR;
            if (!close_rel(du[i], want, ACT_REL_TOL, floor_abs)) {
                bad++;
                CHECK_MSG(0, "%s'(%.9g) * %.6g: float %.9g, ref %.9g", mlp_act_name((mlp_act)a), u[i], dout[i],
                          du[i], want);
            }
        }
    }
done:
    free(u);
    free(dout);
    free(du);
}

/* out == u and du == dout give bitwise the same results as separate buffers. */
TEST(act_aliasing) {
    enum { N = 257 };
    float u[N], dout[N], out[N], du[N], inplace[N];
    unsigned long long state = 99;
    for (int i = 0; i < N; i++) {
        u[i] = (float)act_uniform(&state, -10.0, 10.0);
        dout[i] = (float)act_uniform(&state, -2.0, 2.0);
    }
    for (int a = 0; a < MLP_ACT_COUNT; a++) {
        mlp_act_forward((mlp_act)a, out, u, N);
        memcpy(inplace, u, sizeof u);
        mlp_act_forward((mlp_act)a, inplace, inplace, N);
        CHECK_MSG(memcmp(out, inplace, sizeof out) == 0, "%s forward in place differs", mlp_act_name((mlp_act)a));

        mlp_act_backward((mlp_act)a, du, dout, u, N);
        memcpy(inplace, dout, sizeof dout);
        mlp_act_backward((mlp_act)a, inplace, inplace, u, N);
        CHECK_MSG(memcmp(du, inplace, sizeof du) == 0, "%s backward in place differs", mlp_act_name((mlp_act)a));
    }
    /* n == 0 touches nothing */
    out[0] = 123.0f;
    mlp_act_forward(MLP_ACT_GELU, out, u, 0);
    CHECK(out[0] == 123.0f);
}

/* Exact limits at +-1000 and at the ends of the float range, with no NaN, Inf or overflow flag. */
TEST(act_stability_limits) {
    const float big[] = {1000.0f, -1000.0f, FLT_MAX, -FLT_MAX, 1e20f, -1e20f};
    enum { NB = sizeof big / sizeof big[0] };
    float out[NB], du[NB], ones[NB];
    for (int i = 0; i < NB; i++) ones[i] = 1.0f;
    const float la = (float)(MLP_SELU_LAMBDA * MLP_SELU_ALPHA);

    feclearexcept(FE_ALL_EXCEPT);
    for (int a = 0; a < MLP_ACT_COUNT; a++) {
        mlp_act_forward((mlp_act)a, out, big, NB);
        mlp_act_backward((mlp_act)a, du, ones, big, NB);
        for (int i = 0; i < NB; i++) {
            float u = big[i];
            float f, g;
            switch ((mlp_act)a) {
            case MLP_ACT_RELU: f = u > 0 ? u : 0.0f; g = u > 0 ? 1.0f : 0.0f; break;
            case MLP_ACT_SIGMOID: f = u > 0 ? 1.0f : 0.0f; g = 0.0f; break;
            case MLP_ACT_TANH: f = u > 0 ? 1.0f : -1.0f; g = 0.0f; break;
            case MLP_ACT_SELU: f = u > 0 ? (float)MLP_SELU_LAMBDA * u : -la; g = u > 0 ? (float)MLP_SELU_LAMBDA : 0.0f; break;
            case MLP_ACT_SWISH: /* fall through: same limits as gelu */
            case MLP_ACT_GELU: f = u > 0 ? u : 0.0f; g = u > 0 ? 1.0f : 0.0f; break;
            default: f = g = NAN; break;
            }
            if (a == MLP_ACT_SELU && u == FLT_MAX) f = INFINITY; /* lambda * FLT_MAX > FLT_MAX: true overflow */
            CHECK_MSG(out[i] == f, "%s(%g) = %.9g, expected %.9g", mlp_act_name((mlp_act)a), u, out[i], f);
            CHECK_MSG(du[i] == g, "%s'(%g) = %.9g, expected %.9g", mlp_act_name((mlp_act)a), u, du[i], g);
        }
    }
    /* selu(FLT_MAX) = 1.05 FLT_MAX overflows by definition; everything else must not raise overflow,
     * invalid (NaN) or division by zero. Rerun without that one input to check the flags. */
    feclearexcept(FE_ALL_EXCEPT);
    for (int a = 0; a < MLP_ACT_COUNT; a++) {
        float safe[NB];
        memcpy(safe, big, sizeof safe);
        if (a == MLP_ACT_SELU) safe[2] = 1e30f; /* instead of FLT_MAX */
        mlp_act_forward((mlp_act)a, out, safe, NB);
        mlp_act_backward((mlp_act)a, du, ones, safe, NB);
    }
    CHECK_MSG(!fetestexcept(FE_OVERFLOW), "an activation raised FE_OVERFLOW");
    CHECK_MSG(!fetestexcept(FE_INVALID), "an activation raised FE_INVALID");
    CHECK_MSG(!fetestexcept(FE_DIVBYZERO), "an activation raised FE_DIVBYZERO");

    /* The double references have the same limits. */
    for (int a = 0; a < MLP_ACT_COUNT; a++) {
        for (int s = -1; s <= 1; s += 2) {
            double v = mlp_act_ref((mlp_act)a, s * 1e300), g = mlp_act_ref_grad((mlp_act)a, s * 1e300);
            CHECK_MSG(!isnan(v) && !isnan(g), "%s ref at %g: %g, grad %g", mlp_act_name((mlp_act)a), s * 1e300, v, g);
        }
    }
    CHECK_NEAR(mlp_act_ref(MLP_ACT_GELU, -1000.0), 0.0, 0.0);
    CHECK_NEAR(mlp_act_ref(MLP_ACT_GELU, 1000.0), 1000.0, 0.0);
    CHECK_NEAR(mlp_act_ref(MLP_ACT_SWISH, -1000.0), 0.0, 0.0);
    CHECK_NEAR(mlp_act_ref(MLP_ACT_SELU, -1000.0), -MLP_SELU_LAMBDA * MLP_SELU_ALPHA, 0.0);
    CHECK_NEAR(mlp_act_ref(MLP_ACT_SIGMOID, -1000.0), 0.0, 0.0);
    CHECK_NEAR(mlp_act_ref(MLP_ACT_SIGMOID, 1000.0), 1.0, 0.0);
    CHECK_NEAR(mlp_act_ref_grad(MLP_ACT_GELU, -1000.0), 0.0, 0.0);
    CHECK_NEAR(mlp_act_ref_grad(MLP_ACT_GELU, 1000.0), 1.0, 0.0);
}
