/* test_loss.c - losses: names and defaults, hand-computed values, the double oracle against finite
 * differences of itself, the float batch evaluation against the oracle, argmax ties, the hinge tie
 * convention, focal limits, precision when p is within 1e-16 of 1, and logits of +-1000. */
#include "check.h"
#include "mlp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOSS_K 10

/* Deterministic uniform in [lo, hi) (a small LCG: the tests do not depend on rng.c). */
static double loss_uniform(unsigned long long *state, double lo, double hi) {
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (double)(*state >> 11) / 9007199254740992.0;
}

static mlp_loss_cfg cfg_of(mlp_loss kind) {
    return mlp_loss_default(kind);
}

TEST(loss_names_and_defaults) {
    static const char *const expected[MLP_LOSS_COUNT] = {"mse", "ce", "hinge", "focal"};
    for (int i = 0; i < MLP_LOSS_COUNT; i++) {
        mlp_loss l = MLP_LOSS_COUNT;
        CHECK(strcmp(mlp_loss_name((mlp_loss)i), expected[i]) == 0);
        CHECK_INT(mlp_loss_parse(expected[i], &l), 0);
        CHECK_INT(l, i);
    }
    mlp_loss l = MLP_LOSS_MSE;
    CHECK_INT(mlp_loss_parse("softmax-ce", &l), 0);
    CHECK_INT(l, MLP_LOSS_CE);
    l = MLP_LOSS_MSE;
    CHECK_INT(mlp_loss_parse("cross-entropy", &l), 0);
    CHECK_INT(l, MLP_LOSS_CE);
    l = MLP_LOSS_HINGE;
    CHECK_INT(mlp_loss_parse("softmax", &l), -1);
    CHECK_INT(mlp_loss_parse("", &l), -1);
    CHECK_INT(mlp_loss_parse("MSE", &l), -1);
    CHECK_INT(mlp_loss_parse(NULL, &l), -1);
    CHECK_INT(l, MLP_LOSS_HINGE); /* untouched on failure */
    CHECK(strcmp(mlp_loss_name(MLP_LOSS_COUNT), "?") == 0);

    for (int i = 0; i < MLP_LOSS_COUNT; i++) {
        mlp_loss_cfg c = mlp_loss_default((mlp_loss)i);
        CHECK_INT(c.kind, i);
        CHECK(c.hinge_margin == 5.0f);
        CHECK(c.focal_gamma == 2.0f);
        CHECK(c.focal_alpha == NULL && c.n_focal_alpha == 0); /* 0.1 for every class, however many */
        for (int k = 0; k < 1000; k++) CHECK(mlp_loss_focal_alpha(&c, k) == 0.1f);
    }
}

/*
 * Logits x = (1, 2, 3), label t = 2, K = 3.
 *   softmax: sum exp(x - 3) = e^-2 + e^-1 + 1 = 0.1353352832 + 0.3678794412 + 1 = 1.5032147244080551
 *            h = (0.09003057317038046, 0.24472847105479764, 0.6652409557748218)
 *   CE    = ln(1 + e^-1 + e^-2) = 0.4076059644443804;  dE/dx = h - t = (0.0900306, 0.2447285, -0.3347590)
 *   MSE   = (1-0)^2 + (2-0)^2 + (3-1)^2 = 1 + 4 + 4 = 9;    dE/dx = 2(x - t) = (2, 4, 4)
 *   hinge = max(0, 5-3+1) + max(0, 5-3+2) = 3 + 4 = 7;      dE/dx = (1, 1, -2)
 *   label 0 instead: hinge = (5-1+2) + (5-1+3) = 6 + 7 = 13; dE/dx = (-2, 1, 1)
 *   focal (g = 2, alpha = 0.1): p = 1/1.5032147244 = 0.6652409557748218, q = 1-p = 0.3347590442251782
 *         E = -0.1 q^2 ln p = 0.1 * 0.112063617 * 0.407605964 = 0.004567779896788493
 *         factor = 0.1 q (q - 2 p ln p) = 0.029361...; dE/dx = factor (h - t)
 *                = (0.0026433659246698584, 0.007185413558997916, -0.009828779483667779)
 */
TEST(loss_ref_hand_values) {
    const double x[3] = {1.0, 2.0, 3.0};
    double dx[3];
    mlp_loss_cfg c;

    c = cfg_of(MLP_LOSS_CE);
    CHECK_NEAR(mlp_loss_ref(&c, x, 2, 3, dx), 0.4076059644443804, 1e-15);
    CHECK_NEAR(dx[0], 0.09003057317038046, 1e-15);
    CHECK_NEAR(dx[1], 0.24472847105479764, 1e-15);
    CHECK_NEAR(dx[2], 0.6652409557748218 - 1.0, 1e-15);

    c = cfg_of(MLP_LOSS_MSE);
    CHECK_NEAR(mlp_loss_ref(&c, x, 2, 3, dx), 9.0, 0.0);
    CHECK_NEAR(dx[0], 2.0, 0.0);
    CHECK_NEAR(dx[1], 4.0, 0.0);
    CHECK_NEAR(dx[2], 4.0, 0.0);

    c = cfg_of(MLP_LOSS_HINGE);
    CHECK_NEAR(mlp_loss_ref(&c, x, 2, 3, dx), 7.0, 0.0);
    CHECK_NEAR(dx[0], 1.0, 0.0);
    CHECK_NEAR(dx[1], 1.0, 0.0);
    CHECK_NEAR(dx[2], -2.0, 0.0);
    CHECK_NEAR(mlp_loss_ref(&c, x, 0, 3, dx), 13.0, 0.0);
    CHECK_NEAR(dx[0], -2.0, 0.0);
    CHECK_NEAR(dx[1], 1.0, 0.0);
    CHECK_NEAR(dx[2], 1.0, 0.0);

    /* alpha is stored as the float 0.1f = 0.100000001490116..., so the values scale by 0.1f / 0.1 */
    c = cfg_of(MLP_LOSS_FOCAL);
    const double a = (double)0.1f / 0.1;
    CHECK_NEAR(mlp_loss_ref(&c, x, 2, 3, dx), a * 0.004567779896788493, 1e-16);
    CHECK_NEAR(dx[0], a * 0.0026433659246698584, 1e-16);
    CHECK_NEAR(dx[1], a * 0.007185413558997916, 1e-16);
    CHECK_NEAR(dx[2], a * -0.009828779483667779, 1e-16);

    /* float batch of the same row: the sum of one row, the float-rounded gradient */
    const float xf[3] = {1.0f, 2.0f, 3.0f};
    const int32_t y = 2;
    float d[3];
    int correct = -1;
    c = cfg_of(MLP_LOSS_CE);
    CHECK_NEAR(mlp_loss_eval(&c, xf, &y, 1, 3, d, 1.0f, &correct), 0.4076059644443804, 1e-15);
    CHECK_NEAR(d[2], -0.3347590442251782, 1e-7);
    CHECK_INT(correct, 1);
}

/* Central-difference check of the oracle's gradient at x, coordinate by coordinate. */
static void check_loss_fd(const mlp_loss_cfg *c, const double *x, int t, const char *what) {
    const double h = 1e-6;
    double dx[LOSS_K], xp[LOSS_K], dummy[LOSS_K];
    double E = mlp_loss_ref(c, x, t, LOSS_K, dx);
    CHECK_MSG(isfinite(E), "%s %s: loss %g", mlp_loss_name(c->kind), what, E);
    for (int k = 0; k < LOSS_K; k++) {
        memcpy(xp, x, sizeof xp);
        xp[k] = x[k] + h;
        double Ep = mlp_loss_ref(c, xp, t, LOSS_K, dummy);
        xp[k] = x[k] - h;
        double Em = mlp_loss_ref(c, xp, t, LOSS_K, dummy);
        double fd = (Ep - Em) / (2.0 * h);
        double tol = 1e-6 * (1.0 + fabs(dx[k])) + 4e-16 * (1.0 + fabs(E)) / h;
        CHECK_MSG(isfinite(dx[k]) && fabs(fd - dx[k]) <= tol, "%s (g=%g) %s label %d: dE/dx_%d = %.12g, fd %.12g",
                  mlp_loss_name(c->kind), c->focal_gamma, what, t, k, dx[k], fd);
    }
}

/* Hinge is not differentiable where a margin D - x_t + x_k is 0: keep test points away from that. */
static int hinge_margins_clear(const mlp_loss_cfg *c, const double *x, int t) {
    for (int k = 0; k < LOSS_K; k++)
        if (k != t && fabs(c->hinge_margin - x[t] + x[k]) < 1e-3) return 0;
    return 1;
}

TEST(loss_ref_gradient_finite_differences) {
    static const float gammas[] = {0.0f, 1.0f, 2.0f, 0.5f};
    unsigned long long state = 2024;
    double x[LOSS_K];
    for (int kind = 0; kind < MLP_LOSS_COUNT; kind++) {
        for (int gi = 0; gi < (kind == MLP_LOSS_FOCAL ? 4 : 1); gi++) {
            mlp_loss_cfg c = cfg_of((mlp_loss)kind);
            c.focal_gamma = gammas[gi];
            float alpha[LOSS_K];
            for (int k = 0; k < LOSS_K; k++) alpha[k] = 0.05f * (float)(k + 1); /* per-class alpha */
            c.focal_alpha = alpha;
            c.n_focal_alpha = LOSS_K;
            for (int trial = 0; trial < 24; trial++) {
                double scale = trial < 8 ? 3.0 : trial < 16 ? 10.0 : 50.0; /* up to +-50 */
                int t = (int)loss_uniform(&state, 0.0, LOSS_K);
                for (int k = 0; k < LOSS_K; k++) x[k] = loss_uniform(&state, -scale, scale);
                if (trial % 3 == 1) x[t] = x[(t + 1) % LOSS_K] + 4.0; /* label clearly the max */
                if (kind == MLP_LOSS_HINGE && !hinge_margins_clear(&c, x, t)) continue;
                check_loss_fd(&c, x, t, "random");
            }
            /* ties: three equal maxima; the label is the first, a later one, or not among them */
            /* (spread 4.5 < D, so no hinge margin is exactly 0) */
            static const double tied[LOSS_K] = {2.0, -1.0, 2.0, 0.5, 2.0, 0.5, -2.5, 0.0, 1.0, 0.5};
            static const int tie_labels[] = {0, 2, 4, 3, 5, 6};
            for (size_t i = 0; i < sizeof tie_labels / sizeof tie_labels[0]; i++)
                check_loss_fd(&c, tied, tie_labels[i], "tied");
            /* all logits equal */
            double flat[LOSS_K];
            for (int k = 0; k < LOSS_K; k++) flat[k] = 0.25;
            check_loss_fd(&c, flat, 7, "flat");
        }
    }
}

/* The float batch evaluation equals the double oracle row by row (sum of losses; scaled, rounded grads). */
TEST(loss_eval_matches_ref) {
    enum { N = 7 };
    unsigned long long state = 31337;
    float logits[N * LOSS_K], dlogits[N * LOSS_K + 1];
    int32_t labels[N];
    for (int kind = 0; kind < MLP_LOSS_COUNT; kind++) {
        mlp_loss_cfg c = cfg_of((mlp_loss)kind);
        float alpha[LOSS_K];
        for (int k = 0; k < LOSS_K; k++) alpha[k] = 0.1f + 0.02f * (float)k;
        if (kind == MLP_LOSS_FOCAL) c.focal_alpha = alpha, c.n_focal_alpha = LOSS_K;
        for (int pass = 0; pass < 2; pass++) {
            float scale = pass == 0 ? 1.0f / N : 1.0f;
            for (int i = 0; i < N * LOSS_K; i++) logits[i] = (float)loss_uniform(&state, -6.0, 6.0);
            for (int n = 0; n < N; n++) labels[n] = (int32_t)loss_uniform(&state, 0.0, LOSS_K);
            dlogits[N * LOSS_K] = 12345.0f; /* sentinel past the end */
            int correct = -1;
            double sum = mlp_loss_eval(&c, logits, labels, N, LOSS_K, dlogits, scale, &correct);
            CHECK(dlogits[N * LOSS_K] == 12345.0f);

            double want_sum = 0.0;
            int want_correct = 0;
            for (int n = 0; n < N; n++) {
                double x[LOSS_K], dx[LOSS_K];
                int best = 0;
                for (int k = 0; k < LOSS_K; k++) {
                    x[k] = logits[n * LOSS_K + k];
                    if (logits[n * LOSS_K + k] > logits[n * LOSS_K + best]) best = k;
                }
                want_correct += best == labels[n];
                want_sum += mlp_loss_ref(&c, x, labels[n], LOSS_K, dx);
                for (int k = 0; k < LOSS_K; k++) {
                    double want = (double)scale * dx[k];
                    CHECK_MSG(fabs(dlogits[n * LOSS_K + k] - want) <= 1e-6 * fabs(want) + 1e-12,
                              "%s row %d k %d: %.9g vs %.9g", mlp_loss_name(c.kind), n, k, dlogits[n * LOSS_K + k],
                              want);
                }
            }
            CHECK_NEAR(sum, want_sum, 1e-12 * (1.0 + fabs(want_sum)));
            CHECK_INT(correct, want_correct);
            /* optional outputs may be NULL; the value does not change */
            CHECK_NEAR(mlp_loss_eval(&c, logits, labels, N, LOSS_K, NULL, scale, NULL), sum, 0.0);
        }
    }
    /* an empty batch */
    mlp_loss_cfg c = cfg_of(MLP_LOSS_CE);
    int correct = -1;
    CHECK_NEAR(mlp_loss_eval(&c, logits, labels, 0, LOSS_K, dlogits, 1.0f, &correct), 0.0, 0.0);
    CHECK_INT(correct, 0);
}

/* Accuracy counts the first maximum on ties. */
TEST(loss_n_correct_ties) {
    const float logits[6 * 3] = {
        2, 2, 1,   /* label 0: first max -> correct */
        2, 2, 1,   /* label 1: tied but not first -> wrong */
        0, 0, 0,   /* label 0: correct */
        0, 0, 0,   /* label 2: wrong */
        -1, 3, 3,  /* label 1: correct */
        5, -1, 7,  /* label 2: correct */
    };
    const int32_t labels[6] = {0, 1, 0, 2, 1, 2};
    int correct = -1;
    mlp_loss_cfg c = cfg_of(MLP_LOSS_HINGE);
    double E = mlp_loss_eval(&c, logits, labels, 6, 3, NULL, 1.0f, &correct);
    CHECK_INT(correct, 4);
    /* hinge D = 5, sum over k != t of max(0, 5 - x_t + x_k):
     *   (5-2+2)+(5-2+1) = 9, 9, (5+5) = 10, 10, (5-3-1)+(5-3+3) = 1+5 = 6, (5-7+5)+max(0, 5-7-1) = 3
     *   total 9 + 9 + 10 + 10 + 6 + 3 = 47 */
    CHECK_NEAR(E, 47.0, 1e-12);
}

/* A margin of exactly 0 is inactive (value 0, gradient 0); just above 0 it is active. */
TEST(loss_hinge_tie_convention) {
    mlp_loss_cfg c = cfg_of(MLP_LOSS_HINGE);
    double dx[3];
    const double at_zero[2] = {0.0, 5.0}; /* margin 5 - 5 + 0 = 0 */
    CHECK_NEAR(mlp_loss_ref(&c, at_zero, 1, 2, dx), 0.0, 0.0);
    CHECK_NEAR(dx[0], 0.0, 0.0);
    CHECK_NEAR(dx[1], 0.0, 0.0);
    const double above[2] = {0.5, 5.0}; /* margin 0.5 */
    CHECK_NEAR(mlp_loss_ref(&c, above, 1, 2, dx), 0.5, 0.0);
    CHECK_NEAR(dx[0], 1.0, 0.0);
    CHECK_NEAR(dx[1], -1.0, 0.0);
    c.hinge_margin = 1.0f;
    const double m1[3] = {0.0, 0.25, 0.0}; /* margins 1 - 0.25 + 0 = 0.75 twice */
    CHECK_NEAR(mlp_loss_ref(&c, m1, 1, 3, dx), 1.5, 0.0);
    CHECK_NEAR(dx[0], 1.0, 0.0);
    CHECK_NEAR(dx[1], -2.0, 0.0);
    CHECK_NEAR(dx[2], 1.0, 0.0);
}

/* Focal with g = 0 is alpha_t times cross-entropy; the loss scales with alpha of the label's class. */
TEST(loss_focal_special_cases) {
    unsigned long long state = 5;
    mlp_loss_cfg ce = cfg_of(MLP_LOSS_CE), fo = cfg_of(MLP_LOSS_FOCAL);
    fo.focal_gamma = 0.0f;
    float alpha[LOSS_K];
    for (int k = 0; k < LOSS_K; k++) alpha[k] = 0.5f + 0.25f * (float)k;
    fo.focal_alpha = alpha;
    fo.n_focal_alpha = LOSS_K;
    for (int trial = 0; trial < 20; trial++) {
        double x[LOSS_K], dce[LOSS_K], dfo[LOSS_K];
        int t = trial % LOSS_K;
        for (int k = 0; k < LOSS_K; k++) x[k] = loss_uniform(&state, -5.0, 5.0);
        double a = fo.focal_alpha[t]; /* alpha of the label */
        double Ece = mlp_loss_ref(&ce, x, t, LOSS_K, dce);
        double Efo = mlp_loss_ref(&fo, x, t, LOSS_K, dfo);
        CHECK_NEAR(Efo, a * Ece, 1e-14 * (1.0 + Efo));
        for (int k = 0; k < LOSS_K; k++) CHECK_NEAR(dfo[k], a * dce[k], 1e-15);
    }
    /* g = 2, alpha changed for the label's class only */
    mlp_loss_cfg f1 = cfg_of(MLP_LOSS_FOCAL), f2 = cfg_of(MLP_LOSS_FOCAL);
    float a2[5] = {0.1f, 0.1f, 0.1f, 0.7f, 123.0f}; /* class 4: another class, must not matter */
    f2.focal_alpha = a2;
    f2.n_focal_alpha = 5;                              /* classes 5..9: the default 0.1 */
    const double x[LOSS_K] = {0.1, -0.2, 0.3, 0.4, -0.5, 0.6, -0.7, 0.8, -0.9, 1.0};
    double d1[LOSS_K], d2[LOSS_K];
    double E1 = mlp_loss_ref(&f1, x, 3, LOSS_K, d1), E2 = mlp_loss_ref(&f2, x, 3, LOSS_K, d2);
    CHECK_NEAR(E2, E1 * ((double)0.7f / (double)0.1f), 1e-15);
    for (int k = 0; k < LOSS_K; k++) CHECK_NEAR(d2[k], d1[k] * ((double)0.7f / (double)0.1f), 1e-15);
}

/*
 * x = (40, 0, ..., 0), label 0: q = 1 - p = 9 e^-40 / (1 + 9 e^-40) = 3.8e-17, below double's epsilon,
 * so p rounds to 1 and a naive ln p or 1 - p gives 0. The correct values, to relative 1e-15:
 *   CE    = -ln p = log1p(9 e^-40)                          ~ q
 *   focal = -alpha q^g ln p ~ alpha q^(g+1)             (g = 0.5 and 2)
 *   dfocal/dx_0 = -alpha q^g (1 - g p ln p / q) q ~ -alpha (1 + g) q^(g+1)
 */
TEST(loss_precision_near_certainty) {
    double x[LOSS_K] = {40.0}, dx[LOSS_K];
    const double r = 9.0 * exp(-40.0);
    const double q = r / (1.0 + r);
    mlp_loss_cfg c = cfg_of(MLP_LOSS_CE);
    CHECK_NEAR(mlp_loss_ref(&c, x, 0, LOSS_K, dx) / log1p(r), 1.0, 1e-15);
    CHECK_NEAR(dx[0] / -q, 1.0, 1e-14);
    static const float gammas[] = {0.5f, 2.0f};
    for (int i = 0; i < 2; i++) {
        double g = gammas[i];
        c = cfg_of(MLP_LOSS_FOCAL);
        c.focal_gamma = gammas[i];
        double a = mlp_loss_focal_alpha(&c, 0);
        double E = mlp_loss_ref(&c, x, 0, LOSS_K, dx);
        CHECK_NEAR(E / (a * pow(q, g + 1.0)), 1.0, 1e-14);
        CHECK_NEAR(dx[0] / (-a * (1.0 + g) * pow(q, g + 1.0)), 1.0, 1e-14);
        CHECK_NEAR(dx[1] / (a * (1.0 + g) * pow(q, g) * exp(-40.0)), 1.0, 1e-14);
    }
}

/* Logits of +-1000: exact, finite values for every loss, in both the oracle and the float batch. */
static void expect_row(mlp_loss_cfg c, int t, double want_E, const double *want_dx) {
    float xf[LOSS_K] = {1000.0f, -1000.0f}; /* the rest 0 */
    double x[LOSS_K] = {1000.0, -1000.0}, dx[LOSS_K];
    float df[LOSS_K];
    int32_t y = (int32_t)t;
    double E = mlp_loss_ref(&c, x, t, LOSS_K, dx);
    double Ef = mlp_loss_eval(&c, xf, &y, 1, LOSS_K, df, 1.0f, NULL);
    CHECK_MSG(E == want_E && Ef == want_E, "%s (g=%g) label %d: ref %.17g, eval %.17g, expected %.17g",
              mlp_loss_name(c.kind), c.focal_gamma, t, E, Ef, want_E);
    for (int k = 0; k < LOSS_K; k++) {
        CHECK_MSG(dx[k] == want_dx[k] && df[k] == (float)want_dx[k],
                  "%s (g=%g) label %d: d/dx_%d ref %.17g, eval %.9g, expected %.17g", mlp_loss_name(c.kind),
                  c.focal_gamma, t, k, dx[k], df[k], want_dx[k]);
    }
}

TEST(loss_stability_extreme_logits) {
    /* x = (1000, -1000, 0 x 8). exp(-1000) and exp(-2000) are 0 in double. */
    mlp_loss_cfg c;
    const double a = (double)0.1f;
    double g[LOSS_K];

    /* CE, label 1: -ln h_1 = 2000 - ln(1 + e^-2000 + 8 e^-1000) = 2000; h - t = (1, -1, 0...) */
    c = cfg_of(MLP_LOSS_CE);
    memset(g, 0, sizeof g); g[0] = 1.0; g[1] = -1.0;
    expect_row(c, 1, 2000.0, g);
    /* label 0: 0, gradient 0 */
    memset(g, 0, sizeof g);
    expect_row(c, 0, 0.0, g);
    /* label 2: 1000, gradient (1, 0, -1, 0...) */
    memset(g, 0, sizeof g); g[0] = 1.0; g[2] = -1.0;
    expect_row(c, 2, 1000.0, g);

    /* focal (alpha 0.1, g = 2), label 1: p = e^-2000 = 0, q = 1: E = 0.1 * 1 * 2000;
     * factor = 0.1 * 1 * (1 - 2 * 0 * (-2000)) = 0.1; gradient 0.1 (h - t) */
    c = cfg_of(MLP_LOSS_FOCAL);
    memset(g, 0, sizeof g); g[0] = a; g[1] = -a;
    expect_row(c, 1, a * 2000.0, g);
    memset(g, 0, sizeof g); g[0] = a; g[2] = -a;
    expect_row(c, 2, a * 1000.0, g);
    /* label 0: p = 1, q = 0: loss 0 and gradient 0 for g = 2, 0.5 (the (1-p)^(g-1) = inf case) and 0 */
    memset(g, 0, sizeof g);
    expect_row(c, 0, 0.0, g);
    c.focal_gamma = 0.5f;
    expect_row(c, 0, 0.0, g);
    c.focal_gamma = 0.0f;
    expect_row(c, 0, 0.0, g);
    c.focal_gamma = 0.5f;
    g[0] = a; g[1] = -a;
    expect_row(c, 1, a * 2000.0, g);

    /* hinge D = 5, label 1: (5 + 1000 + 1000) + 8 * (5 + 1000 + 0) = 2005 + 8040 = 10045; dx = 1, dx_1 = -9 */
    c = cfg_of(MLP_LOSS_HINGE);
    for (int k = 0; k < LOSS_K; k++) g[k] = 1.0;
    g[1] = -9.0;
    expect_row(c, 1, 10045.0, g);
    /* label 0: every margin 5 - 1000 + x_k < 0 */
    memset(g, 0, sizeof g);
    expect_row(c, 0, 0.0, g);
    /* label 2: (5 - 0 + 1000) + 7 * (5 - 0 + 0) = 1005 + 35 = 1040; class 1 inactive (5 - 1000 < 0) */
    for (int k = 0; k < LOSS_K; k++) g[k] = 1.0;
    g[1] = 0.0;
    g[2] = -8.0;
    expect_row(c, 2, 1040.0, g);

    /* MSE, label 0: 999^2 + 1000^2 = 998001 + 1000000 = 1998001; 2(x - t) = (1998, -2000, 0...) */
    c = cfg_of(MLP_LOSS_MSE);
    memset(g, 0, sizeof g); g[0] = 1998.0; g[1] = -2000.0;
    expect_row(c, 0, 1998001.0, g);
    /* label 1: (1000 - 0)^2 + (-1000 - 1)^2 = 1000000 + 1002001 = 2002001 */
    memset(g, 0, sizeof g); g[0] = 2000.0; g[1] = -2002.0;
    expect_row(c, 1, 2002001.0, g);
}

/* Invalid input cannot be reported (no error channel): a NaN loss and no out-of-bounds access. */
TEST(loss_invalid_input_is_nan) {
    mlp_loss_cfg c = cfg_of(MLP_LOSS_FOCAL);
    float logits[2 * LOSS_K] = {0};
    float d[2 * LOSS_K];
    int32_t labels[2] = {3, 200}; /* 200 >= K */
    for (int i = 0; i < 2 * LOSS_K; i++) d[i] = 7.0f;
    int correct = -1;
    double E = mlp_loss_eval(&c, logits, labels, 2, LOSS_K, d, 1.0f, &correct);
    CHECK(isnan(E));
    for (int k = 0; k < LOSS_K; k++) CHECK(d[LOSS_K + k] == 0.0f);
    CHECK(d[3] != 7.0f); /* the valid row got its gradient */
    double x[LOSS_K] = {0}, dx[LOSS_K];
    CHECK(isnan(mlp_loss_ref(&c, x, LOSS_K, LOSS_K, dx)));
    CHECK(isnan(mlp_loss_ref(&c, x, -1, LOSS_K, dx)));
    CHECK(isnan(mlp_loss_ref(&c, x, 0, 0, dx)));
    CHECK(isnan(mlp_loss_ref(&c, x, -2, LOSS_K, dx)));
    labels[0] = -1;
    CHECK(isnan(mlp_loss_eval(&c, logits, labels, 1, LOSS_K, NULL, 1.0f, NULL)));
    CHECK(isnan(mlp_loss_eval(NULL, logits, labels, 1, LOSS_K, NULL, 1.0f, NULL)));
}
