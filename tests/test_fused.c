/* test_fused.c - the fast paths against their plain references, on every kernel path this CPU supports:
 *   - the vectorized exp/expm1 against double-precision libm (stated bounds: exp 2 ulp, expm1 3e-7);
 *   - each path's activations (f and f' in one pass) against the double references;
 *   - every GEMM epilogue (bias + activation, multiply by f', SGD) against the unfused composition, bitwise;
 *   - the fused training step (three parts, any team size) against forward + loss + backward + SGD, bitwise,
 *     for one, two and three layers and odd sizes;
 *   - whole epochs of the trainer: 1, 2 and 3 threads give the same bits, and equal an unfused loop;
 *   - the evaluation: the same sums for any thread count;
 *   - subnormals flushed to zero while the library computes, the caller's floating-point mode kept. */
#include "check.h"
#include "step.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

static const mlp_kernels all_paths[] = {MLP_KERNELS_PORTABLE, MLP_KERNELS_AVX2, MLP_KERNELS_AVX512};
#define N_PATHS 3

static unsigned long long fz_state = 1;
static double fz_uniform(double lo, double hi) {
    fz_state = fz_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (double)(fz_state >> 11) / 9007199254740992.0;
}
static void fz_fill(float *v, size_t n, double lo, double hi) {
    for (size_t i = 0; i < n; i++) v[i] = (float)fz_uniform(lo, hi);
}
static int same(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof(float)) == 0; }

/* ------------------------------------------------------------------ exp and the activations */

/* relative error of a float result against a double value, in units of the float's spacing there */
static double ulps(float got, double want) {
    if (want == 0) return got == 0 ? 0 : INFINITY;
    int e;
    frexp(want, &e);
    double ulp = ldexp(1.0, (e - 24 < -149 ? -149 : e - 24));
    return fabs((double)got - want) / ulp;
}

TEST(fused_exp_accuracy_against_libm) {
    enum { N = 200000 };
    float *x = malloc(N * sizeof *x), *e = malloc(N * sizeof *e), *m = malloc(N * sizeof *m);
    for (int i = 0; i < N; i++) x[i] = (float)(-104.0 * i / (N - 1)); /* [-104, 0], every regime */
    x[1] = -1e-30f;
    x[2] = -1e-7f;
    x[3] = -FLT_MIN;
    for (int pi = 1; pi < N_PATHS; pi++) {
        const mlp_kernels k = all_paths[pi];
        if (!mlp_kernels_supported(k)) continue;
        mlp_kernels_of(k)->exp_nonpos(x, e, m, N);
        double worst_ulp = 0, worst_rel_m1 = 0;
        for (int i = 0; i < N; i++) {
            const double xe = exp((double)x[i]), xm = expm1((double)x[i]);
            if (x[i] <= -103.9f) {
                CHECK_MSG(e[i] == 0.0f && m[i] == -1.0f, "%s: exp(%g) = %g, expm1 = %g: expected 0, -1",
                          mlp_kernels_name(k), x[i], e[i], m[i]);
                continue;
            }
            if (xe >= FLT_MIN) { /* normal results: relative accuracy */
                double u = ulps(e[i], xe);
                if (u > worst_ulp) worst_ulp = u;
            } else { /* subnormal results: within one spacing (2^-149) */
                CHECK_MSG(fabs(e[i] - xe) <= ldexp(1.0, -149), "%s: exp(%.9g) = %g, libm %g", mlp_kernels_name(k),
                          x[i], e[i], xe);
            }
            double rm = fabs(m[i] - xm) / fabs(xm);
            if (rm > worst_rel_m1) worst_rel_m1 = rm;
        }
        printf("    %s: exp max error %.2f ulp, expm1 max relative error %.2g\n", mlp_kernels_name(k), worst_ulp,
               worst_rel_m1);
        CHECK_MSG(worst_ulp <= 2.0, "%s: exp max error %.3f ulp > 2", mlp_kernels_name(k), worst_ulp);
        CHECK_MSG(worst_rel_m1 <= 3e-7, "%s: expm1 max relative error %.3g > 3e-7", mlp_kernels_name(k),
                  worst_rel_m1);
    }
    free(x);
    free(e);
    free(m);
}

/* Each path's f and f' (computed together) against the double references, with act.c's own tolerances:
 * 1e-6 relative, and where swish' and gelu' cross zero 2e-7 absolute. */
TEST(fused_path_activations_match_refs) {
    enum { N = 4000 };
    static const float special[] = {0.0f, -0.0f, 1e-8f, -1e-8f, 1e-30f, 88.0f, -88.0f, 100.0f, -100.0f, 1000.0f,
                                    -1000.0f, FLT_MAX, -FLT_MAX, 1e20f, -1e20f, 3.0f, -3.0f, 10.6f, -10.6f};
    const int NS = (int)(sizeof special / sizeof special[0]);
    float *u = malloc(N * sizeof *u), *f = malloc(N * sizeof *f), *d = malloc(N * sizeof *d);
    fz_state = 5;
    memcpy(u, special, sizeof special);
    for (int i = NS; i < N; i++) u[i] = (float)fz_uniform(i % 2 ? -12 : -40, i % 2 ? 12 : 40);
    for (int pi = 0; pi < N_PATHS; pi++) {
        const mlp_kernels k = all_paths[pi];
        if (!mlp_kernels_supported(k)) continue;
        for (int a = 0; a < MLP_ACT_COUNT; a++) {
            int bad = 0;
            /* N - 3: a length that is not a multiple of the vector width (the tail path) */
            mlp_kernels_of(k)->act((mlp_act)a, u, f, d, N - 3);
            for (int i = 0; i < N - 3 && bad < 3; i++) {
                if (a == MLP_ACT_SELU && u[i] == FLT_MAX) continue; /* overflows to inf by definition */
                const double wf = mlp_act_ref((mlp_act)a, u[i]), wd = mlp_act_ref_grad((mlp_act)a, u[i]);
                const int cancels = a == MLP_ACT_SWISH || a == MLP_ACT_GELU;
                const double tf = 1e-6 * fabs(wf) + 1e-40, td = 1e-6 * fabs(wd) + (cancels ? 2e-7 : 1e-40);
                if (!(fabs(f[i] - wf) <= tf) || !(fabs(d[i] - wd) <= td)) {
                    bad++;
                    CHECK_MSG(0, "%s %s(%.9g): f %.9g (ref %.9g), f' %.9g (ref %.9g)", mlp_kernels_name(k),
                              mlp_act_name((mlp_act)a), u[i], f[i], wf, d[i], wd);
                }
            }
            /* in place (f == u) gives the same f */
            float *g = malloc(N * sizeof *g);
            memcpy(g, u, N * sizeof *g);
            mlp_kernels_of(k)->act((mlp_act)a, g, g, NULL, N - 3);
            CHECK_MSG(same(g, f, N - 3), "%s %s: in place differs", mlp_kernels_name(k), mlp_act_name((mlp_act)a));
            /* backward = dout * f' exactly */
            float *dout = malloc(N * sizeof *dout), *du = malloc(N * sizeof *du);
            fz_fill(dout, N, -2, 2);
            mlp_kernels_of(k)->act_backward((mlp_act)a, u, dout, du, N - 3);
            int ok = 1;
            for (int i = 0; i < N - 3; i++) {
                float want = dout[i] * d[i];
                if (memcmp(&want, &du[i], sizeof want) != 0) ok = 0;
            }
            CHECK_MSG(ok, "%s %s: backward is not dout * f'", mlp_kernels_name(k), mlp_act_name((mlp_act)a));
            free(g);
            free(dout);
            free(du);
        }
    }
    free(u);
    free(f);
    free(d);
}

/* AVX2 and AVX-512 run the same vector source: bitwise the same activations. */
TEST(fused_avx2_avx512_activations_identical) {
    if (!mlp_kernels_supported(MLP_KERNELS_AVX2) || !mlp_kernels_supported(MLP_KERNELS_AVX512)) {
        check_skip("needs both the avx2 and the avx512 paths");
        return;
    }
    enum { N = 3001 };
    float u[N], f2[N], d2[N], f5[N], d5[N];
    fz_state = 6;
    fz_fill(u, N, -30, 30);
    for (int a = 0; a < MLP_ACT_COUNT; a++) {
        mlp_kernels_of(MLP_KERNELS_AVX2)->act((mlp_act)a, u, f2, d2, N);
        mlp_kernels_of(MLP_KERNELS_AVX512)->act((mlp_act)a, u, f5, d5, N);
        CHECK_MSG(same(f2, f5, N) && same(d2, d5, N), "%s differs between avx2 and avx512", mlp_act_name((mlp_act)a));
    }
}

/* ------------------------------------------------------------------ GEMM epilogues */

/* For random shapes (tails in both directions), each epilogue against the plain kernel + the row function. */
TEST(fused_epilogues_match_unfused) {
    fz_state = 7;
    for (int pi = 0; pi < N_PATHS; pi++) {
        const mlp_kernels k = all_paths[pi];
        if (!mlp_kernels_supported(k)) continue;
        const mlp_kernel_table *kt = mlp_kernels_of(k);
        for (int trial = 0; trial < 40; trial++) {
            const int M = 1 + (int)fz_uniform(0, 40), N = 1 + (int)fz_uniform(0, 150), K = (int)fz_uniform(0, 60);
            const int ld = N + (trial % 3);
            const size_t na = (size_t)(M > K ? M : K) * (M > K ? M : K) + 16;
            float *A = malloc(sizeof(float) * na);
            float *B = malloc(sizeof(float) * (size_t)(K + 1) * ld), *bias = malloc(sizeof(float) * ld);
            float *C1 = malloc(sizeof(float) * (size_t)M * ld), *C2 = malloc(sizeof(float) * (size_t)M * ld);
            float *F1 = malloc(sizeof(float) * (size_t)M * ld), *F2 = malloc(sizeof(float) * (size_t)M * ld);
            float *D1 = malloc(sizeof(float) * (size_t)M * ld), *D2 = malloc(sizeof(float) * (size_t)M * ld);
            float *W1 = malloc(sizeof(float) * (size_t)M * ld), *W2 = malloc(sizeof(float) * (size_t)M * ld);
            float *V1 = malloc(sizeof(float) * (size_t)M * ld), *V2 = malloc(sizeof(float) * (size_t)M * ld);
            fz_fill(A, na, -1, 1);
            fz_fill(B, (size_t)(K + 1) * ld, -1, 1);
            fz_fill(bias, ld, -1, 1);
            const mlp_act act = (mlp_act)(trial % MLP_ACT_COUNT);
            /* ACT: bias + A B, then f and f' */
            kt->gemm_nn(M, N, K, A, K ? K : 1, B, ld, bias, C1, ld, NULL);
            for (int i = 0; i < M; i++) kt->act(act, C1 + (size_t)i * ld, F1 + (size_t)i * ld, D1 + (size_t)i * ld, N);
            mlp_epi ep = {.kind = MLP_EPI_ACT, .act = act, .f = F2, .ldf = ld, .d = D2, .ldd = ld};
            kt->gemm_nn(M, N, K, A, K ? K : 1, B, ld, bias, C2, ld, &ep);
            int ok = 1;
            for (int i = 0; i < M; i++)
                ok &= same(C1 + (size_t)i * ld, C2 + (size_t)i * ld, N) && same(F1 + (size_t)i * ld, F2 + (size_t)i * ld, N) &&
                      same(D1 + (size_t)i * ld, D2 + (size_t)i * ld, N);
            CHECK_MSG(ok, "%s ACT epilogue M=%d N=%d K=%d", mlp_kernels_name(k), M, N, K);
            /* ACT in place (f = C) */
            mlp_epi ip = {.kind = MLP_EPI_ACT, .act = act, .f = C2, .ldf = ld};
            kt->gemm_nn(M, N, K, A, K ? K : 1, B, ld, bias, C2, ld, &ip);
            ok = 1;
            for (int i = 0; i < M; i++) ok &= same(F1 + (size_t)i * ld, C2 + (size_t)i * ld, N);
            CHECK_MSG(ok, "%s ACT epilogue in place M=%d N=%d K=%d", mlp_kernels_name(k), M, N, K);
            /* MUL: (A B) * D1 */
            kt->gemm_nn(M, N, K, A, K ? K : 1, B, ld, NULL, C1, ld, NULL);
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) C1[(size_t)i * ld + j] = C1[(size_t)i * ld + j] * D1[(size_t)i * ld + j];
            mlp_epi mul = {.kind = MLP_EPI_MUL, .act = act, .d = D1, .ldd = ld};
            kt->gemm_nn(M, N, K, A, K ? K : 1, B, ld, NULL, C2, ld, &mul);
            ok = 1;
            for (int i = 0; i < M; i++) ok &= same(C1 + (size_t)i * ld, C2 + (size_t)i * ld, N);
            CHECK_MSG(ok, "%s MUL epilogue M=%d N=%d K=%d", mlp_kernels_name(k), M, N, K);
            /* SGD: g = A^T B (tn, A is K x M), then the rule */
            fz_fill(W1, (size_t)M * ld, -1, 1);
            fz_fill(V1, (size_t)M * ld, -1, 1);
            memcpy(W2, W1, sizeof(float) * (size_t)M * ld);
            memcpy(V2, V1, sizeof(float) * (size_t)M * ld);
            kt->gemm_tn(M, N, K, A, M, B, ld, C1, ld, NULL);
            for (int i = 0; i < M; i++)
                kt->sgd(W1 + (size_t)i * ld, V1 + (size_t)i * ld, C1 + (size_t)i * ld, N, 0.01f, 0.1f, 0.9f);
            mlp_epi sgd = {.kind = MLP_EPI_SGD, .act = act, .w = W2, .v = V2, .ldw = ld,
                           .lr = 0.01f, .wd = 0.1f, .mom = 0.9f};
            kt->gemm_tn(M, N, K, A, M, B, ld, C2, ld, &sgd);
            ok = 1;
            for (int i = 0; i < M; i++)
                ok &= same(W1 + (size_t)i * ld, W2 + (size_t)i * ld, N) && same(V1 + (size_t)i * ld, V2 + (size_t)i * ld, N);
            CHECK_MSG(ok, "%s SGD epilogue M=%d N=%d K=%d", mlp_kernels_name(k), M, N, K);
            /* the padding between rows is never written by an SGD epilogue */
            if (ld > N) {
                float w = W1[N], v = V1[N];
                CHECK(same(&w, &W2[N], 1) && same(&v, &V2[N], 1));
            }
            free(A), free(B), free(bias), free(C1), free(C2), free(F1), free(F2), free(D1), free(D2);
            free(W1), free(W2), free(V1), free(V2);
        }
    }
}

/* The vectorized SGD loop is the scalar rule, bitwise (the same operations in the same order). */
TEST(fused_sgd_rule_bitwise_scalar) {
    enum { N = 1003 };
    float w[N], v[N], g[N], w2[N], v2[N];
    fz_state = 8;
    fz_fill(w, N, -1, 1);
    fz_fill(v, N, -1, 1);
    fz_fill(g, N, -1, 1);
    for (int pi = 0; pi < N_PATHS; pi++) {
        if (!mlp_kernels_supported(all_paths[pi])) continue;
        memcpy(w2, w, sizeof w);
        memcpy(v2, v, sizeof v);
        mlp_kernels_of(all_paths[pi])->sgd(w2, v2, g, N, 1e-3f, 0.1f, 0.9f);
        int ok = 1;
        for (int i = 0; i < N; i++) {
            float vv = 0.9f * v[i] + (g[i] + 0.1f * w[i]);
            float ww = w[i] - 1e-3f * vv;
            ok &= memcmp(&vv, &v2[i], 4) == 0 && memcmp(&ww, &w2[i], 4) == 0;
        }
        CHECK_MSG(ok, "%s sgd differs from the scalar rule", mlp_kernels_name(all_paths[pi]));
    }
}

/* ------------------------------------------------------------------ the fused step */

typedef struct step_case {
    const char *hidden;
    int D, B, nb;
    mlp_act act;
    mlp_loss loss;
    mlp_reduction red;
} step_case;

static const step_case step_cases[] = {
    {"37", 53, 13, 13, MLP_ACT_GELU, MLP_LOSS_HINGE, MLP_GRAD_SUM},
    {"70,17", 29, 11, 9, MLP_ACT_SWISH, MLP_LOSS_CE, MLP_GRAD_MEAN},
    {"none", 41, 7, 7, MLP_ACT_RELU, MLP_LOSS_MSE, MLP_GRAD_SUM},
    {"16", 20, 5, 5, MLP_ACT_TANH, MLP_LOSS_FOCAL, MLP_GRAD_MEAN},
    {"33,40,8", 30, 12, 12, MLP_ACT_SELU, MLP_LOSS_CE, MLP_GRAD_SUM},
    {"129", 784, 25, 25, MLP_ACT_SIGMOID, MLP_LOSS_HINGE, MLP_GRAD_SUM},
};

/* A net with random parameters and momentum; x, y random. */
static void make_net(mlp_net *net, const step_case *c, mlp_kernels k, float *x, int32_t *y) {
    mlp_arch arch;
    mlp_error err;
    CHECK(mlp_arch_parse(&arch, c->hidden, c->D, 10, c->act, &err) == MLP_OK);
    CHECK(mlp_net_create(net, &arch, c->B, &err) == MLP_OK);
    CHECK(mlp_net_set_exec(net, 1, k, &err) == MLP_OK);
    fz_fill(net->params, net->n_params, -0.3, 0.3);
    fz_fill(net->momentum, net->n_params, -0.1, 0.1);
    mlp_net_params_changed(net);
    fz_fill(x, (size_t)c->B * c->D, -1, 1);
    for (int r = 0; r < c->B; r++) y[r] = (int32_t)fz_uniform(0, 10);
}

/* One fused step with `parts` simulated threads (each part of each phase in turn: the barriers). */
static void fused_step(mlp_net *net, const step_case *c, const float *x, const int32_t *y, int parts, float lr,
                       float wd, float mom, double *loss_sum) {
    const int L = net->arch.n_layers, D = net->arch.width[0], H = net->arch.width[1];
    mlp_step s;
    memset(&s, 0, sizeof s);
    s.x = x;
    s.y = y;
    s.nb = c->nb;
    s.a0 = malloc(sizeof(float) * (size_t)c->B * H);
    for (int l = 0; l < L; l++) {
        s.d[l] = malloc(sizeof(float) * (size_t)c->B * net->arch.width[l + 1]);
        s.g[l] = malloc(sizeof(float) * (size_t)c->B * net->arch.width[l + 1]);
    }
    s.gt0 = malloc(sizeof(float) * (size_t)D * H);
    s.vt0 = malloc(sizeof(float) * (size_t)D * H);
    s.row_loss = malloc(sizeof(double) * c->B);
    s.row_ok = malloc(c->B);
    mlp_loss_cfg lc = mlp_loss_default(c->loss);
    s.loss = &lc;
    s.grad_scale = c->red == MLP_GRAD_MEAN ? 1.0f / c->nb : 1.0f;
    s.lr = lr;
    s.wd = wd;
    s.mom = mom;
    mlp_step_enter(net, s.vt0, NULL, NULL);
    for (int p = 0; p < parts; p++) mlp_step_forward0(net, &s, p, parts);
    for (int p = 0; p < parts; p++) mlp_step_middle(net, &s, p, parts);
    for (int p = 0; p < parts; p++) mlp_step_update(net, &s, p, parts);
    mlp_step_leave(net, s.vt0, NULL);
    *loss_sum = 0;
    for (int r = 0; r < c->nb; r++) *loss_sum += s.row_loss[r];
    free(s.a0);
    for (int l = 0; l < L; l++) free(s.d[l]), free(s.g[l]);
    free(s.gt0), free(s.vt0), free(s.row_loss), free(s.row_ok);
}

TEST(fused_step_equals_unfused_composition) {
    for (int pi = 0; pi < N_PATHS; pi++) {
        const mlp_kernels k = all_paths[pi];
        if (!mlp_kernels_supported(k)) continue;
        for (size_t ci = 0; ci < sizeof step_cases / sizeof step_cases[0]; ci++) {
            const step_case *c = &step_cases[ci];
            float *x = malloc(sizeof(float) * (size_t)c->B * c->D);
            int32_t y[64];
            mlp_net ref, fused;
            fz_state = 100 + ci;
            make_net(&ref, c, k, x, y);
            fz_state = 100 + ci;
            make_net(&fused, c, k, x, y);
            /* the reference step (step.h): forward, loss, backward, SGD */
            mlp_loss_cfg lc = mlp_loss_default(c->loss);
            mlp_train_cfg tc = mlp_train_cfg_default();
            tc.lr = 0.01f, tc.wd = 0.05f, tc.momentum = 0.9f;
            const int K = 10;
            float dl[64 * 10];
            double rows[64];
            unsigned char hits[64];
            int correct;
            double ref_loss = mlp_step_ref_grad(&ref, &lc, x, y, c->nb, c->red == MLP_GRAD_MEAN ? 1.0f / c->nb : 1.0f,
                                                dl, rows, hits, &correct, NULL);
            /* its loss is mlp_loss_eval's on the same logits (the backward pass leaves them in place) */
            int eval_correct;
            CHECK(ref_loss == mlp_loss_eval(&lc, ref.ws->u[ref.arch.n_layers - 1], y, c->nb, K, NULL, 1.0f,
                                            &eval_correct));
            CHECK_INT(correct, eval_correct);
            mlp_step_ref_update(&ref, &tc, tc.lr, 1);
            for (int parts = 1; parts <= 3; parts++) {
                mlp_net net;
                fz_state = 100 + ci;
                make_net(&net, c, k, x, y);
                double loss;
                fused_step(&net, c, x, y, parts, 0.01f, 0.05f, 0.9f, &loss);
                CHECK_MSG(loss == ref_loss, "%s %s parts %d: loss %.17g vs %.17g", mlp_kernels_name(k), c->hidden,
                          parts, loss, ref_loss);
                CHECK_MSG(same(net.params, ref.params, net.n_params), "%s %s parts %d: params differ from the unfused step",
                          mlp_kernels_name(k), c->hidden, parts);
                CHECK_MSG(same(net.momentum, ref.momentum, net.n_params), "%s %s parts %d: momentum differs",
                          mlp_kernels_name(k), c->hidden, parts);
                /* the forward copies of layers >= 1 were refreshed by the update */
                int ok = 1;
                for (int l = 1; l < net.arch.n_layers; l++)
                    ok &= same(net.ws->wt[l], ref.ws->wt[l], (size_t)net.arch.width[l] * net.arch.width[l + 1]);
                CHECK_MSG(ok, "%s %s parts %d: wt of layers >= 1 not refreshed", mlp_kernels_name(k), c->hidden, parts);
                mlp_net_free(&net);
            }
            mlp_net_free(&ref);
            mlp_net_free(&fused);
            free(x);
        }
    }
}

/* ------------------------------------------------------------------ the trainer and the evaluation */

static void toy_set(mlp_dataset *ds, int n, int d, unsigned long long seed) {
    memset(ds, 0, sizeof *ds);
    ds->n = n;
    ds->rows = 1;
    ds->cols = ds->dim = d;
    ds->x = malloc(sizeof(float) * (size_t)n * d);
    ds->y = malloc((size_t)n * sizeof *ds->y);
    fz_state = seed;
    for (int i = 0; i < n; i++) {
        ds->y[i] = (int32_t)(i % 10);
        for (int j = 0; j < d; j++) /* learnable: a bump at the label's pixels */
            ds->x[(size_t)i * d + j] = (float)fz_uniform(-0.5, 0.5) + (j % 10 == ds->y[i] ? 1.0f : 0.0f);
    }
}

/* Epochs of the trainer with `threads` threads; returns the net (caller frees) and the last metrics. */
static int train_epochs_dense;        /* 1: input_sparse = 0 */
static float train_epochs_lr;         /* 0: 0.05 */
static mlp_step_fn train_epochs_on_step; /* the trainer's progress callback, or NULL */
static void train_epochs(mlp_net *net, const mlp_dataset *tr, const mlp_dataset *te, const char *hidden, mlp_act act,
                         mlp_loss loss, mlp_kernels k, int threads, int epochs, int batch, mlp_epoch_metrics *m) {
    mlp_arch arch;
    mlp_error err;
    CHECK(mlp_arch_parse(&arch, hidden, tr->dim, 10, act, &err) == MLP_OK);
    CHECK(mlp_net_create(net, &arch, 32, &err) == MLP_OK);
    CHECK(mlp_net_set_exec(net, threads, k, &err) == MLP_OK);
    net->input_sparse = !train_epochs_dense;
    mlp_rng rng;
    mlp_rng_seed(&rng, 3, 1);
    mlp_net_init(net, 0.3f, &rng);
    mlp_train_cfg cfg = mlp_train_cfg_default();
    cfg.loss = mlp_loss_default(loss);
    cfg.batch = batch;
    cfg.lr = train_epochs_lr > 0 ? train_epochs_lr : 0.05f;
    cfg.wd = 1e-3f;
    cfg.reduction = MLP_GRAD_MEAN;
    mlp_trainer t;
    CHECK(mlp_trainer_init(&t, net, &cfg, tr, te, &err) == MLP_OK);
    t.on_step = train_epochs_on_step;
    for (int e = 0; e < epochs; e++) CHECK(mlp_trainer_epoch(&t, m, &err) == MLP_OK);
    mlp_trainer_free(&t);
}

TEST(fused_trainer_threads_bitwise_identical) {
    mlp_dataset tr, te;
    toy_set(&tr, 203, 45, 11); /* 203 = 8 batches of 25 + a partial batch of 3 */
    toy_set(&te, 57, 45, 12);
    static const char *hiddens[] = {"40", "36,20", "none"};
    for (int pi = 0; pi < N_PATHS; pi++) {
        const mlp_kernels k = all_paths[pi];
        if (!mlp_kernels_supported(k)) continue;
        for (int h = 0; h < 3; h++) {
            mlp_net n1, n2, n3;
            mlp_epoch_metrics m1, m2, m3;
            train_epochs(&n1, &tr, &te, hiddens[h], MLP_ACT_GELU, MLP_LOSS_CE, k, 1, 3, 25, &m1);
            train_epochs(&n2, &tr, &te, hiddens[h], MLP_ACT_GELU, MLP_LOSS_CE, k, 2, 3, 25, &m2);
            train_epochs(&n3, &tr, &te, hiddens[h], MLP_ACT_GELU, MLP_LOSS_CE, k, 3, 3, 25, &m3);
            CHECK_MSG(same(n1.params, n2.params, n1.n_params) && same(n1.params, n3.params, n1.n_params),
                      "%s %s: params depend on the thread count", mlp_kernels_name(k), hiddens[h]);
            CHECK_MSG(same(n1.momentum, n2.momentum, n1.n_params) && same(n1.momentum, n3.momentum, n1.n_params),
                      "%s %s: momentum depends on the thread count", mlp_kernels_name(k), hiddens[h]);
            CHECK(m1.train_loss == m2.train_loss && m1.train_loss == m3.train_loss);
            CHECK(m1.test_loss == m2.test_loss && m1.test_loss == m3.test_loss);
            CHECK(m1.train_acc == m2.train_acc && m1.test_acc == m3.test_acc);
            CHECK_MSG(m1.test_acc > 0.5, "%s %s: the toy problem did not train (test acc %.3f)", mlp_kernels_name(k),
                      hiddens[h], m1.test_acc);
            mlp_net_free(&n1);
            mlp_net_free(&n2);
            mlp_net_free(&n3);
        }
    }
    mlp_dataset_free(&tr);
    mlp_dataset_free(&te);
}

/* The trainer's epoch equals the unfused loop it replaces (gather, forward, loss, backward, SGD), bitwise. */
TEST(fused_trainer_equals_unfused_loop) {
    mlp_dataset tr;
    toy_set(&tr, 130, 33, 21);
    for (int pi = 0; pi < N_PATHS; pi++) {
        const mlp_kernels k = all_paths[pi];
        if (!mlp_kernels_supported(k)) continue;
        mlp_net fast;
        mlp_epoch_metrics m;
        train_epochs(&fast, &tr, NULL, "24,12", MLP_ACT_SWISH, MLP_LOSS_HINGE, k, 2, 1, 20, &m);

        mlp_arch arch;
        mlp_error err;
        mlp_net net;
        CHECK(mlp_arch_parse(&arch, "24,12", tr.dim, 10, MLP_ACT_SWISH, &err) == MLP_OK);
        CHECK(mlp_net_create(&net, &arch, 32, &err) == MLP_OK);
        CHECK(mlp_net_set_exec(&net, 1, k, &err) == MLP_OK);
        mlp_rng rng;
        mlp_rng_seed(&rng, 3, 1);
        mlp_net_init(&net, 0.3f, &rng);
        /* the permutation of epoch 1 (train.c: identity, then Fisher-Yates with stream 2 of the seed) */
        uint32_t perm[130];
        mlp_rng sh;
        mlp_rng_seed(&sh, mlp_train_cfg_default().seed, 2);
        for (int i = 0; i < tr.n; i++) perm[i] = (uint32_t)i;
        for (int i = tr.n - 1; i > 0; i--) {
            uint32_t j = mlp_rng_below(&sh, (uint32_t)i + 1), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        mlp_loss_cfg lc = mlp_loss_default(MLP_LOSS_HINGE);
        float xb[20 * 33], dl[20 * 10];
        int32_t yb[20];
        double sum_loss = 0;
        for (int first = 0; first < tr.n; first += 20) {
            const int nb = tr.n - first < 20 ? tr.n - first : 20;
            for (int r = 0; r < nb; r++) {
                memcpy(xb + r * 33, tr.x + (size_t)perm[first + r] * 33, 33 * sizeof(float));
                yb[r] = tr.y[perm[first + r]];
            }
            const float *logits = mlp_net_forward(&net, xb, nb);
            sum_loss += mlp_loss_eval(&lc, logits, yb, nb, 10, dl, 1.0f / nb, NULL) / nb;
            mlp_net_backward(&net, xb, dl, nb);
            mlp_sgd_step(&net, 0.05f, 1e-3f, 0.9f);
        }
        CHECK_MSG(same(fast.params, net.params, net.n_params), "%s: trainer epoch differs from the unfused loop",
                  mlp_kernels_name(k));
        CHECK_MSG(same(fast.momentum, net.momentum, net.n_params), "%s: momentum differs from the unfused loop",
                  mlp_kernels_name(k));
        CHECK_MSG(m.train_loss == sum_loss / 7, "%s: train loss %.17g vs %.17g", mlp_kernels_name(k), m.train_loss,
                  sum_loss / 7);
        mlp_net_free(&net);
        mlp_net_free(&fast);
    }
    mlp_dataset_free(&tr);
}

TEST(fused_evaluate_threads_and_reference) {
    mlp_dataset te;
    toy_set(&te, 97, 50, 31);
    for (int pi = 0; pi < N_PATHS; pi++) {
        const mlp_kernels k = all_paths[pi];
        if (!mlp_kernels_supported(k)) continue;
        mlp_arch arch;
        mlp_error err;
        mlp_net net;
        CHECK(mlp_arch_parse(&arch, "300", te.dim, 10, MLP_ACT_GELU, &err) == MLP_OK);
        CHECK(mlp_net_create(&net, &arch, 40, &err) == MLP_OK); /* 3 rounds: 40 + 40 + 17 */
        mlp_rng rng;
        mlp_rng_seed(&rng, 5, 1);
        mlp_net_init(&net, 0.2f, &rng);
        mlp_loss_cfg lc = mlp_loss_default(MLP_LOSS_CE);
        double loss[3], acc[3];
        int conf[3][100];
        for (int th = 1; th <= 3; th++) {
            CHECK(mlp_net_set_exec(&net, th, k, &err) == MLP_OK);
            CHECK(mlp_evaluate(&net, &lc, &te, &loss[th - 1], &acc[th - 1], conf[th - 1], &err) == MLP_OK);
        }
        CHECK(loss[0] == loss[1] && loss[0] == loss[2] && acc[0] == acc[1] && acc[0] == acc[2]);
        CHECK(memcmp(conf[0], conf[1], sizeof conf[0]) == 0 && memcmp(conf[0], conf[2], sizeof conf[0]) == 0);
        /* the same sums through mlp_net_forward + mlp_loss_eval, round by round */
        double sum = 0;
        int correct = 0;
        for (int first = 0; first < te.n; first += 40) {
            const int nb = te.n - first < 40 ? te.n - first : 40;
            int c = 0;
            const float *logits = mlp_net_forward(&net, te.x + (size_t)first * te.dim, nb);
            sum += mlp_loss_eval(&lc, logits, te.y + first, nb, 10, NULL, 1.0f, &c);
            correct += c;
        }
        CHECK_MSG(loss[0] == sum / te.n, "%s: evaluate loss %.17g vs %.17g", mlp_kernels_name(k), loss[0], sum / te.n);
        CHECK(acc[0] == (double)correct / te.n);
        int total = 0;
        for (int i = 0; i < 100; i++) total += conf[0][i];
        CHECK_INT(total, te.n);
        mlp_net_free(&net);
    }
    mlp_dataset_free(&te);
}

/* ------------------------------------------------------------------ the sparse first layer */

/* Rows around a background value: each entry is c with probability 1 - density, else random. */
static void sparse_rows(float *x, int n, int d, float c, double density) {
    for (size_t i = 0; i < (size_t)n * d; i++) x[i] = fz_uniform(0, 1) < density ? (float)fz_uniform(-1, 1) : c;
}

/* CSR of dense rows (entries != c, value x - c). */
typedef struct csr_buf {
    uint64_t off[64];
    uint32_t cnt[64];
    uint16_t idx[64 * 200];
    float val[64 * 200];
} csr_buf;

static mlp_csr make_csr(csr_buf *b, const float *x, int n, int d, float c) {
    size_t at = 0;
    for (int r = 0; r < n; r++) {
        b->off[r] = at;
        for (int i = 0; i < d; i++)
            if (x[(size_t)r * d + i] != c) {
                b->idx[at] = (uint16_t)i;
                b->val[at] = x[(size_t)r * d + i] - c;
                at++;
            }
        b->cnt[r] = (uint32_t)(at - b->off[r]);
    }
    mlp_csr m = {b->off, b->cnt, b->idx, b->val};
    return m;
}

/* The forward product around c equals the dense product b + x W to the dense bound (with |x - c| + |c| in
 * place of |x|), for CSR and dense-scan rows alike, which agree bitwise; AVX2 and AVX-512 agree bitwise. */
TEST(fused_sparse_forward_kernels) {
    enum { M = 37, D = 150, N = 150 };
    static float x[M * D], W[D * N], bias[N], start[N], S[N], C1[M * N], C2[M * N], C3[M * N];
    static csr_buf cb;
    fz_state = 41;
    const float c = -0.3f;
    sparse_rows(x, M, D, c, 0.25);
    fz_fill(W, D * N, -1, 1);
    fz_fill(bias, N, -1, 1);
    mlp_column_sums(S, W, D, N);
    for (int o = 0; o < N; o++) start[o] = bias[o] + c * S[o];
    const mlp_csr csr = make_csr(&cb, x, M, D, c);
    float ref5[M * N] = {0}, ref2[M * N] = {0};
    for (int pi = 0; pi < N_PATHS; pi++) {
        const mlp_kernels k = all_paths[pi];
        if (!mlp_kernels_supported(k)) continue;
        const mlp_kernel_table *kt = mlp_kernels_of(k);
        for (int n = 1; n <= N; n += 37) { /* column counts with every kind of tail */
            kt->spmm_nn(M, n, &csr, W, N, start, C1, N, NULL);
            kt->spmm_nn_dense(M, n, D, x, D, c, W, N, start, C2, N, NULL);
            int ok = 1;
            for (int r = 0; r < M; r++) ok &= same(C1 + r * N, C2 + r * N, n);
            CHECK_MSG(ok, "%s n=%d: CSR and dense-scan rows differ", mlp_kernels_name(k), n);
        }
        kt->spmm_nn(M, N, &csr, W, N, start, C1, N, NULL);
        mlp_gemm_nn_ref(M, N, D, x, D, W, N, bias, C3, N);
        int bad = 0;
        for (int r = 0; r < M; r++)
            for (int o = 0; o < N; o++) {
                double mag = fabs(bias[o]) + fabs(c) * fabs(S[o]);
                for (int i = 0; i < D; i++) mag += (fabs(x[r * D + i] - c) + fabs(c)) * fabs(W[i * N + o]);
                if (!(fabs(C1[r * N + o] - C3[r * N + o]) <= (D + 4) * FLT_EPSILON * mag)) bad++;
            }
        CHECK_MSG(bad == 0, "%s: %d sparse forward values off the dense reference", mlp_kernels_name(k), bad);
        if (k == MLP_KERNELS_AVX2) memcpy(ref2, C1, sizeof ref2);
        if (k == MLP_KERNELS_AVX512) memcpy(ref5, C1, sizeof ref5);
        /* with the activation epilogue: the plain product, then the path's activation */
        mlp_epi ep = {.kind = MLP_EPI_ACT, .act = MLP_ACT_GELU, .f = C2, .ldf = N, .d = C3, .ldd = N};
        kt->spmm_nn(M, N, &csr, W, N, start, C2, N, &ep);
        float f[N], d[N];
        int ok = 1;
        for (int r = 0; r < M; r++) {
            kt->act(MLP_ACT_GELU, C1 + r * N, f, d, N);
            ok &= same(f, C2 + r * N, N) && same(d, C3 + r * N, N);
        }
        CHECK_MSG(ok, "%s: sparse forward epilogue differs", mlp_kernels_name(k));
    }
    if (mlp_kernels_supported(MLP_KERNELS_AVX2) && mlp_kernels_supported(MLP_KERNELS_AVX512))
        CHECK_MSG(same(ref2, ref5, M * N), "sparse forward: avx2 and avx512 differ");
}

/* The sparse weight gradient + SGD + column sums against a double reference of c db + x^T G, and the
 * block split of the rows (any, in order) never changes a bit. */
TEST(fused_sparse_gradient_kernel) {
    enum { NB = 45, D = 70, N = 90 };
    static float x[NB * D], G[NB * N], W0[D * N], V0[D * N], W[D * N], V[D * N], W2[D * N], V2[D * N];
    static float start[N], S[N], S2[N], db[N];
    static csr_buf cb;
    fz_state = 43;
    const float c = 0.25f, lr = 0.01f, wd = 0.1f, mom = 0.9f;
    sparse_rows(x, NB, D, c, 0.3);
    fz_fill(G, NB * N, -1, 1);
    fz_fill(W0, D * N, -1, 1);
    fz_fill(V0, D * N, -1, 1);
    for (int o = 0; o < N; o++) {
        db[o] = 0;
        for (int r = 0; r < NB; r++) db[o] += G[r * N + o];
        start[o] = c * db[o];
    }
    const mlp_csr csr = make_csr(&cb, x, NB, D, c);
    /* CSC blocks: (a) one block of all rows, (b) blocks of 7 rows */
    static uint32_t ps[8][D + 1];
    static uint16_t rowb[8][NB * D];
    static float valb[8][NB * D];
    mlp_csc_block one[1], seven[8];
    for (int split = 0; split < 2; split++) {
        const int per = split ? 7 : NB, nblk = (NB + per - 1) / per;
        for (int b = 0; b < nblk; b++) {
            memset(ps[b], 0, sizeof ps[b]);
            for (int r = b * per; r < NB && r < (b + 1) * per; r++)
                for (uint32_t e = 0; e < csr.cnt[r]; e++) ps[b][csr.idx[csr.off[r] + e] + 1]++;
            for (int i = 0; i < D; i++) ps[b][i + 1] += ps[b][i];
            uint32_t cur[D];
            memcpy(cur, ps[b], sizeof cur);
            for (int r = b * per; r < NB && r < (b + 1) * per; r++)
                for (uint32_t e = 0; e < csr.cnt[r]; e++) {
                    uint32_t at = cur[csr.idx[csr.off[r] + e]]++;
                    rowb[b][at] = (uint16_t)r;
                    valb[b][at] = csr.val[csr.off[r] + e];
                }
            mlp_csc_block *dst = split ? &seven[b] : &one[0];
            dst->pstart = ps[b];
            dst->row = rowb[b];
            dst->val = valb[b];
        }
        if (!split) { /* keep a copy: block storage 0 is reused by the 7-row split */
            static uint32_t ps1[D + 1];
            static uint16_t row1[NB * D];
            static float val1[NB * D];
            memcpy(ps1, ps[0], sizeof ps1);
            memcpy(row1, rowb[0], sizeof row1);
            memcpy(val1, valb[0], sizeof val1);
            one[0].pstart = ps1;
            one[0].row = row1;
            one[0].val = val1;
        }
    }
    for (int pi = 0; pi < N_PATHS; pi++) {
        const mlp_kernels k = all_paths[pi];
        if (!mlp_kernels_supported(k)) continue;
        const mlp_kernel_table *kt = mlp_kernels_of(k);
        memcpy(W, W0, sizeof W), memcpy(V, V0, sizeof V), memcpy(W2, W0, sizeof W), memcpy(V2, V0, sizeof V);
        kt->spmm_tn_sgd(D, N, one, 1, G, N, start, W, V, N, lr, wd, mom, S);
        kt->spmm_tn_sgd(D, N, seven, (NB + 6) / 7, G, N, start, W2, V2, N, lr, wd, mom, S2);
        CHECK_MSG(same(W, W2, D * N) && same(V, V2, D * N) && same(S, S2, N), "%s: the row blocks change the bits",
                  mlp_kernels_name(k));
        int bad = 0;
        for (int i = 0; i < D; i++)
            for (int o = 0; o < N; o++) {
                double g = 0, mag = fabs(c * db[o]);
                for (int r = 0; r < NB; r++) {
                    g += (double)x[r * D + i] * G[r * N + o];
                    mag += (fabs(x[r * D + i] - c) + fabs(c)) * fabs(G[r * N + o]);
                }
                const double v = mom * (double)V0[i * N + o] + (g + wd * (double)W0[i * N + o]);
                const double tol = (NB + 4) * FLT_EPSILON * mag + 4 * FLT_EPSILON * fabs(v);
                if (!(fabs(V[i * N + o] - v) <= tol) || !(fabs(W[i * N + o] - (W0[i * N + o] - lr * v)) <= lr * tol + 1e-7))
                    bad++;
            }
        CHECK_MSG(bad == 0, "%s: %d gradient/SGD values off the reference", mlp_kernels_name(k), bad);
        float Sw[N];
        mlp_column_sums(Sw, W, D, N);
        CHECK_MSG(same(Sw, S, N), "%s: column sums are not the chain of mlp_column_sums", mlp_kernels_name(k));
    }
}

/* A learnable dataset whose inputs are mostly one background value (the sparse path engages). */
static void toy_sparse_set(mlp_dataset *ds, int n, int d, unsigned long long seed) {
    memset(ds, 0, sizeof *ds);
    ds->n = n;
    ds->rows = 1;
    ds->cols = ds->dim = d;
    ds->x = malloc(sizeof(float) * (size_t)n * d);
    ds->y = malloc((size_t)n * sizeof *ds->y);
    fz_state = seed;
    for (int i = 0; i < n; i++) {
        ds->y[i] = (int32_t)(i % 10);
        for (int j = 0; j < d; j++) {
            float v = -0.5f;                                           /* background */
            if (j % 10 == ds->y[i] && fz_uniform(0, 1) < 0.7) v = 0.5f; /* the label's pixels */
            else if (fz_uniform(0, 1) < 0.08) v = (float)fz_uniform(-0.5, 0.5);
            ds->x[(size_t)i * d + j] = v;
        }
    }
}

TEST(fused_sparse_trainer_threads_and_dense) {
    mlp_dataset tr, te;
    toy_sparse_set(&tr, 203, 60, 51);
    toy_sparse_set(&te, 57, 60, 52);
    static const char *hiddens[] = {"40", "36,20"};
    for (int pi = 0; pi < N_PATHS; pi++) {
        const mlp_kernels k = all_paths[pi];
        if (!mlp_kernels_supported(k)) continue;
        for (int h = 0; h < 2; h++) {
            mlp_net n1, n2, n3, nd;
            mlp_epoch_metrics m1, m2, m3, md;
            train_epochs(&n1, &tr, &te, hiddens[h], MLP_ACT_GELU, MLP_LOSS_CE, k, 1, 3, 25, &m1);
            train_epochs(&n2, &tr, &te, hiddens[h], MLP_ACT_GELU, MLP_LOSS_CE, k, 2, 3, 25, &m2);
            train_epochs(&n3, &tr, &te, hiddens[h], MLP_ACT_GELU, MLP_LOSS_CE, k, 3, 3, 25, &m3);
            CHECK_MSG(same(n1.params, n2.params, n1.n_params) && same(n1.params, n3.params, n1.n_params) &&
                          same(n1.momentum, n2.momentum, n1.n_params) && same(n1.momentum, n3.momentum, n1.n_params),
                      "%s %s sparse: params depend on the thread count", mlp_kernels_name(k), hiddens[h]);
            CHECK(m1.train_loss == m2.train_loss && m1.test_loss == m3.test_loss && m1.test_acc == m2.test_acc);
            CHECK_MSG(m1.test_acc > 0.5, "%s %s sparse: did not train (%.3f)", mlp_kernels_name(k), hiddens[h],
                      m1.test_acc);
            /* the dense path: the same training up to rounding */
            train_epochs_dense = 1;
            train_epochs(&nd, &tr, &te, hiddens[h], MLP_ACT_GELU, MLP_LOSS_CE, k, 2, 3, 25, &md);
            train_epochs_dense = 0;
            double worst = 0;
            for (size_t i = 0; i < n1.n_params; i++) {
                const double dlt = fabs(n1.params[i] - nd.params[i]) / (1e-3 + fabs(nd.params[i]));
                if (dlt > worst) worst = dlt;
            }
            CHECK_MSG(worst < 1e-3, "%s %s: sparse and dense training differ by %.3g (relative)", mlp_kernels_name(k),
                      hiddens[h], worst);
            CHECK_NEAR(m1.test_loss, md.test_loss, 1e-4 * (1 + fabs(md.test_loss)));
            CHECK_MSG(!same(n1.params, nd.params, n1.n_params), "%s %s: the sparse path was not used",
                      mlp_kernels_name(k), hiddens[h]);
            mlp_net_free(&n1), mlp_net_free(&n2), mlp_net_free(&n3), mlp_net_free(&nd);
        }
    }
    mlp_dataset_free(&tr);
    mlp_dataset_free(&te);
}

TEST(fused_sparse_evaluate) {
    mlp_dataset te;
    toy_sparse_set(&te, 97, 80, 61);
    for (int pi = 0; pi < N_PATHS; pi++) {
        const mlp_kernels k = all_paths[pi];
        if (!mlp_kernels_supported(k)) continue;
        mlp_arch arch;
        mlp_error err;
        mlp_net net;
        CHECK(mlp_arch_parse(&arch, "130", te.dim, 10, MLP_ACT_SWISH, &err) == MLP_OK);
        CHECK(mlp_net_create(&net, &arch, 40, &err) == MLP_OK);
        mlp_rng rng;
        mlp_rng_seed(&rng, 5, 1);
        mlp_net_init(&net, 0.2f, &rng);
        mlp_loss_cfg lc = mlp_loss_default(MLP_LOSS_CE);
        double loss[4], acc[4];
        for (int th = 1; th <= 3; th++) {
            CHECK(mlp_net_set_exec(&net, th, k, &err) == MLP_OK);
            CHECK(mlp_evaluate(&net, &lc, &te, &loss[th - 1], &acc[th - 1], NULL, &err) == MLP_OK);
        }
        net.input_sparse = 0;
        CHECK(mlp_evaluate(&net, &lc, &te, &loss[3], &acc[3], NULL, &err) == MLP_OK);
        CHECK(loss[0] == loss[1] && loss[0] == loss[2]);
        CHECK_NEAR(loss[0], loss[3], 1e-5 * (1 + loss[3]));
        CHECK_MSG(loss[0] != loss[3], "%s: the sparse evaluation was not used", mlp_kernels_name(k));
        mlp_net_free(&net);
    }
    mlp_dataset_free(&te);
}

/* The team may shrink to one thread and grow back between any two steps (the trainer does so when the machine
 * is busy): with a fixed schedule of switches, 2 and 3 threads still give the bits of 1. */
TEST(fused_trainer_team_switches_bitwise) {
    mlp_dataset sets[2];
    toy_set(&sets[0], 230, 45, 71);        /* dense path */
    toy_sparse_set(&sets[1], 230, 60, 72); /* sparse path */
    unsigned char teams[64];
    for (int s = 0; s < 64; s++) teams[s] = (unsigned char)((s / 2) % 3 != 1); /* 1 1 0 0 1 1 1 1 0 0 ... */
    for (int pi = 0; pi < N_PATHS; pi++) {
        const mlp_kernels k = all_paths[pi];
        if (!mlp_kernels_supported(k)) continue;
        for (int ds = 0; ds < 2; ds++) {
            mlp_net nets[3];
            mlp_epoch_metrics ms[3];
            for (int th = 1; th <= 3; th++) {
                mlp_arch arch;
                mlp_error err;
                mlp_net *net = &nets[th - 1];
                CHECK(mlp_arch_parse(&arch, "48,16", sets[ds].dim, 10, MLP_ACT_TANH, &err) == MLP_OK);
                CHECK(mlp_net_create(net, &arch, 32, &err) == MLP_OK);
                CHECK(mlp_net_set_exec(net, th, k, &err) == MLP_OK);
                mlp_rng rng;
                mlp_rng_seed(&rng, 9, 1);
                mlp_net_init(net, 0.3f, &rng);
                mlp_train_cfg cfg = mlp_train_cfg_default();
                cfg.loss = mlp_loss_default(MLP_LOSS_HINGE);
                cfg.batch = 20; /* 12 steps, the last one partial */
                cfg.lr = 0.01f;
                cfg.wd = 1e-3f;
                cfg.reduction = MLP_GRAD_MEAN;
                mlp_trainer t;
                CHECK(mlp_trainer_init(&t, net, &cfg, &sets[ds], &sets[ds], &err) == MLP_OK);
                CHECK((t.ws->sparse != NULL) == (ds == 1));
                for (int e = 0; e < 2; e++) CHECK(mlp_trainer_epoch_teams(&t, &ms[th - 1], teams, &err) == MLP_OK);
                mlp_trainer_free(&t);
            }
            for (int i = 1; i < 3; i++) {
                CHECK_MSG(same(nets[0].params, nets[i].params, nets[0].n_params) &&
                              same(nets[0].momentum, nets[i].momentum, nets[0].n_params),
                          "%s %s: %d threads with team switches differ from 1 thread", mlp_kernels_name(k),
                          ds ? "sparse" : "dense", i + 1);
                CHECK(ms[0].train_loss == ms[i].train_loss && ms[0].test_loss == ms[i].test_loss);
            }
            for (int i = 0; i < 3; i++) mlp_net_free(&nets[i]);
        }
    }
    mlp_dataset_free(&sets[0]);
    mlp_dataset_free(&sets[1]);
}

/* ------------------------------------------------------------------ subnormals flushed to zero
 * (src/kernels/fpmode.c) on the calling thread and on every thread of the library's parallel regions, for
 * prediction, the unfused backward pass and SGD step, training and evaluation; the caller's mode is what it was
 * after every call (off stays off, on stays on, in the caller and in the OpenMP pool); and a run that meets
 * subnormals stays bitwise repeatable and independent of the thread count on every path. Where the library has
 * no flush mode (neither x86 nor AArch64, or -DMLP_NO_FTZ) the same tests expect IEEE results. */

/* 1 when this build can flush at all (then every computing call must flush). */
static int platform_flushes(void) {
    mlp_fpmode m;
    mlp_fpmode_enter(&m);
    const int f = mlp_fpmode_flushes();
    mlp_fpmode_leave(&m);
    return f;
}

/* How many threads of a 4-thread OpenMP region (the pool the library's regions use) flush now. */
static int pool_flushing(void) {
    int n = 0;
#ifdef _OPENMP
#pragma omp parallel num_threads(4) reduction(+ : n)
    n += mlp_fpmode_flushes();
#else
    n = mlp_fpmode_flushes();
#endif
    return n;
}

/* A one-layer net (D inputs, 10 outputs) whose logits 0 and 1 are a subnormal product and a product of a
 * subnormal input: W[0][0] = 1e-20 with x[r][0] = 1e-20 (1e-40: FTZ makes it 0), W[1][1] = 1e10 with
 * x[r][1] = 1e-39 (1e-29, or 0 when DAZ reads the input as 0). */
enum { FP_D = 200, FP_N = 2000 };

static void subnormal_net(mlp_net *net, float *x, mlp_kernels k) {
    mlp_arch arch;
    mlp_error err;
    CHECK(mlp_arch_parse(&arch, "none", FP_D, 10, MLP_ACT_RELU, &err) == MLP_OK);
    CHECK(mlp_net_create(net, &arch, FP_N, &err) == MLP_OK);
    CHECK(mlp_net_set_exec(net, 2, k, &err) == MLP_OK);
    memset(net->params, 0, sizeof(float) * net->n_params);
    net->params[net->w_off[0] + 0 * FP_D + 0] = 1e-20f;
    net->params[net->w_off[0] + 1 * FP_D + 1] = 1e10f;
    mlp_net_params_changed(net);
    memset(x, 0, sizeof(float) * (size_t)FP_N * FP_D);
    for (int r = 0; r < FP_N; r++) {
        x[(size_t)r * FP_D + 0] = 1e-20f;
        x[(size_t)r * FP_D + 1] = 1e-39f;
    }
}

/* Every row's logits 0 and 1 as flushing (or IEEE) arithmetic gives them; returns the failing rows. */
static int bad_rows(const float *logits, int flush) {
    volatile float a = 1e-20f, b = 1e-20f, c = 1e10f, d = 1e-39f;
    const float ftz = a * b, daz = c * d; /* computed here, in the caller's (IEEE) mode */
    int bad = 0;
    for (int r = 0; r < FP_N; r++) {
        const float l0 = logits[r * 10 + 0], l1 = logits[r * 10 + 1];
        if (flush ? (l0 != 0.0f || l1 != 0.0f) : (l0 != ftz || l1 != daz)) bad++;
    }
    return bad;
}

TEST(fpmode_forward_flushes_and_restores) {
    const int flush = platform_flushes();
    CHECK(mlp_fpmode_flushes() == 0);
    CHECK(pool_flushing() == 0);
    float *x = malloc(sizeof(float) * (size_t)FP_N * FP_D);
    for (int pi = 0; pi < N_PATHS; pi++) {
        const mlp_kernels k = all_paths[pi];
        if (!mlp_kernels_supported(k)) continue;
        mlp_net net;
        subnormal_net(&net, x, k);
        CHECK(mlp_net_row_threads(&net, FP_N) == 2); /* both threads of the region compute rows */
        const float *logits = mlp_net_forward(&net, x, FP_N);
        CHECK_MSG(bad_rows(logits, flush) == 0, "%s: %d rows not %s", mlp_kernels_name(k), bad_rows(logits, flush),
                  flush ? "flushed" : "IEEE");
        /* the caller's mode (off) is back, in this thread and in the pool's threads */
        CHECK(mlp_fpmode_flushes() == 0);
        CHECK(pool_flushing() == 0);
        /* a caller that flushes itself keeps flushing */
        if (flush) {
            mlp_fpmode mine;
            mlp_fpmode_enter(&mine);
            logits = mlp_net_forward(&net, x, FP_N);
            CHECK(bad_rows(logits, 1) == 0);
            CHECK(mlp_fpmode_flushes() == 1);
            mlp_fpmode_leave(&mine);
            CHECK(mlp_fpmode_flushes() == 0);
        }
        mlp_net_free(&net);
    }
    free(x);
}

/* The unfused backward pass (through the threaded GEMM drivers) and mlp_sgd_step. */
TEST(fpmode_backward_and_sgd_flush_and_restore) {
    const int flush = platform_flushes();
    float *x = malloc(sizeof(float) * (size_t)FP_N * FP_D);
    float *dl = calloc((size_t)FP_N * 10, sizeof(float));
    for (int pi = 0; pi < N_PATHS; pi++) {
        const mlp_kernels k = all_paths[pi];
        if (!mlp_kernels_supported(k)) continue;
        mlp_net net;
        subnormal_net(&net, x, k);
        /* dW[0][0] = sum_r dl[r][0] x[r][0] with dl = 1e-25 on row 0 only: 1e-45 (subnormal) or 0 */
        dl[0] = 1e-25f;
        mlp_net_backward(&net, x, dl, FP_N);
        volatile float p = 1e-25f, q = 1e-20f;
        const float ieee = p * q;
        const float g = net.grads[net.w_off[0]];
        CHECK_MSG(flush ? g == 0.0f : g == ieee, "%s: gradient %g", mlp_kernels_name(k), (double)g);
        CHECK(mlp_fpmode_flushes() == 0);
        CHECK(pool_flushing() == 0);
        /* SGD with w = 0, v = 0, g = 1, lr = 1e-40 (itself read as 0 under DAZ): w = -lr v = -1e-40 or -0 */
        memset(net.params, 0, sizeof(float) * net.n_params);
        memset(net.momentum, 0, sizeof(float) * net.n_params);
        for (size_t i = 0; i < net.n_params; i++) net.grads[i] = 1.0f;
        volatile float tiny = 1e-40f;
        mlp_sgd_step(&net, tiny, 0.0f, 0.9f);
        CHECK_MSG(flush ? net.params[3] == 0.0f : net.params[3] == -tiny, "%s: w %g", mlp_kernels_name(k),
                  (double)net.params[3]);
        CHECK(mlp_fpmode_flushes() == 0);
        mlp_net_free(&net);
    }
    free(x);
    free(dl);
}

/* Subnormals flushed (src/kernels/fpmode.c; the tests above test the mode itself): a run that meets subnormals
 * flushes on every step, keeps the caller's mode and stays bitwise repeatable and thread-count independent. */

static int steps_seen, steps_flushing;
static void on_step(void *user, int epoch, int step, int steps, double loss_sum, double acc_sum) {
    (void)user, (void)epoch, (void)step, (void)steps, (void)loss_sum, (void)acc_sum;
    steps_seen++;
    steps_flushing += mlp_fpmode_flushes();
}

/* A fast-learning run (gelu + ce, mean gradients, lr 0.3, 6 epochs) with `threads` threads (net: caller frees). */
static void fast_run(mlp_net *net, const mlp_dataset *tr, const mlp_dataset *te, mlp_kernels k, int threads,
                     mlp_epoch_metrics *m) {
    train_epochs_lr = 0.3f;
    train_epochs_on_step = on_step;
    train_epochs(net, tr, te, "48,24", MLP_ACT_GELU, MLP_LOSS_CE, k, threads, 6, 32, m);
    train_epochs_lr = 0;
    train_epochs_on_step = NULL;
}

/* The largest gap between a row's top logit and another of its logits: above ~87.3, softmax's probability of
 * the other class (exp(-gap)) is a subnormal float, as is its gradient. */
static double max_logit_gap(mlp_net *net, const mlp_dataset *ds) {
    double gap = 0;
    for (int r = 0; r < ds->n; r++) {
        const float *l = mlp_net_forward(net, ds->x + (size_t)r * ds->dim, 1);
        float hi = l[0], lo = l[0];
        for (int j = 1; j < 10; j++) hi = l[j] > hi ? l[j] : hi, lo = l[j] < lo ? l[j] : lo;
        if (hi - lo > gap) gap = hi - lo;
    }
    return gap;
}

TEST(fpmode_training_flushes_and_stays_bitwise) {
    const int flush = platform_flushes();
    mlp_dataset tr, te;
    toy_set(&tr, 384, 60, 7);
    toy_set(&te, 120, 60, 8);
    for (int pi = 0; pi < N_PATHS; pi++) {
        const mlp_kernels k = all_paths[pi];
        if (!mlp_kernels_supported(k)) continue;
        mlp_net n1, n2, n2b, n3; /* 1, 2, 2 and 4 threads */
        mlp_epoch_metrics m1, m2, m2b, m3;
        steps_seen = steps_flushing = 0;
        fast_run(&n1, &tr, &te, k, 1, &m1);
        CHECK(steps_seen == 72);
        CHECK_MSG(steps_flushing == (flush ? steps_seen : 0), "%s: %d of %d steps ran with flushing",
                  mlp_kernels_name(k), steps_flushing, steps_seen);
        CHECK(mlp_fpmode_flushes() == 0);
        CHECK(pool_flushing() == 0);
        fast_run(&n2, &tr, &te, k, 2, &m2);
        fast_run(&n2b, &tr, &te, k, 2, &m2b);
        fast_run(&n3, &tr, &te, k, 4, &m3); /* may create pool threads: they must not keep flushing */
        CHECK(mlp_fpmode_flushes() == 0);
        CHECK(pool_flushing() == 0);
        /* the run met subnormals: softmax probabilities below FLT_MIN */
        const double gap = max_logit_gap(&n1, &tr);
        CHECK_MSG(gap > 88.0, "%s: largest logit gap %.1f: the run never reached subnormal probabilities",
                  mlp_kernels_name(k), gap);
        CHECK_MSG(memcmp(n1.params, n2.params, sizeof(float) * n1.n_params) == 0 &&
                      memcmp(n1.params, n3.params, sizeof(float) * n1.n_params) == 0,
                  "%s: params depend on the thread count", mlp_kernels_name(k));
        CHECK_MSG(memcmp(n2.params, n2b.params, sizeof(float) * n1.n_params) == 0 &&
                      memcmp(n2.momentum, n2b.momentum, sizeof(float) * n1.n_params) == 0,
                  "%s: the same run twice differs", mlp_kernels_name(k));
        CHECK(m1.train_loss == m2.train_loss && m1.train_loss == m3.train_loss);
        CHECK(m1.test_loss == m2.test_loss && m1.test_loss == m3.test_loss && m1.test_acc == m3.test_acc);
        /* evaluation: the same sums with 1 and 2 threads, caller's mode kept */
        double l1, a1, l2, a2;
        mlp_error err;
        mlp_dataset big;
        toy_set(&big, 3000, 60, 9);
        CHECK(mlp_net_set_exec(&n1, 1, k, &err) == MLP_OK);
        CHECK(mlp_evaluate(&n1, &(mlp_loss_cfg){.kind = MLP_LOSS_CE}, &big, &l1, &a1, NULL, &err) == MLP_OK);
        CHECK(mlp_net_set_exec(&n1, 2, k, &err) == MLP_OK);
        CHECK(mlp_evaluate(&n1, &(mlp_loss_cfg){.kind = MLP_LOSS_CE}, &big, &l2, &a2, NULL, &err) == MLP_OK);
        CHECK(l1 == l2 && a1 == a2);
        CHECK(mlp_fpmode_flushes() == 0);
        CHECK(pool_flushing() == 0);
        mlp_dataset_free(&big);
        mlp_net_free(&n1);
        mlp_net_free(&n2);
        mlp_net_free(&n2b);
        mlp_net_free(&n3);
    }
    mlp_dataset_free(&tr);
    mlp_dataset_free(&te);
}
