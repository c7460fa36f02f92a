/* test_gemm.c - the matrix kernels: every compiled path against the double-precision reference and
 * against the exact per-element chain of internal.h, bitwise independence of the thread count,
 * AVX2 == AVX-512 bitwise, no writes outside C, no use of the padding of A or B, and the
 * kernel-path names / resolution. */
#include "check.h"
#include "kernels.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ helpers */

static uint64_t test_rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t next_u32(void) { /* xorshift64*, enough for test data */
    test_rng_state ^= test_rng_state >> 12;
    test_rng_state ^= test_rng_state << 25;
    test_rng_state ^= test_rng_state >> 27;
    return (uint32_t)((test_rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

static int rand_int(int lo, int hi) { return lo + (int)(next_u32() % (uint32_t)(hi - lo + 1)); }
static float rand_float(void) { return (float)next_u32() / 4294967296.0f * 2.0f - 1.0f; } /* [-1, 1) */

/* One problem: C[M x N] = (bias) + op(A) B, with op(A) = A (nn, A is M x K) or A^T (tn, A is K x M). */
typedef struct problem {
    int tn, M, N, K, lda, ldb, ldc;
    float *A, *B, *bias; /* bias only for nn, may be NULL */
} problem;

enum { GUARD = 64 };               /* sentinel floats before and after C */
static const float SENTINEL = -7.25e30f;

/* A rows x cols matrix with leading dimension ld >= cols; the padding is NaN, so a kernel that
 * used it in a result would be caught. */
static float *random_matrix(int rows, int cols, int ld) {
    size_t n = (size_t)(rows > 0 ? rows : 1) * (size_t)ld;
    float *m = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) m[i] = NAN;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) m[(size_t)r * ld + c] = rand_float();
    return m;
}

static problem make_problem(int tn, int M, int N, int K, int pad, int with_bias) {
    problem p;
    p.tn = tn;
    p.M = M;
    p.N = N;
    p.K = K;
    int a_cols = tn ? M : K, a_rows = tn ? K : M;
    p.lda = a_cols + (pad ? rand_int(1, 5) : 0);
    p.ldb = N + (pad ? rand_int(1, 5) : 0);
    p.ldc = N + (pad ? rand_int(1, 5) : 0);
    if (p.lda < 1) p.lda = 1;
    p.A = random_matrix(a_rows, a_cols, p.lda);
    p.B = random_matrix(K, N, p.ldb);
    p.bias = NULL;
    if (!tn && with_bias) p.bias = random_matrix(1, N, N);
    return p;
}

static void free_problem(problem *p) {
    free(p->A);
    free(p->B);
    free(p->bias);
}

/* C with GUARD sentinels on both sides and in the row gaps (ldc > N); returns the start of C. */
static float *alloc_c(const problem *p, float **block) {
    size_t n = (size_t)p->M * p->ldc + 2 * GUARD;
    *block = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) (*block)[i] = SENTINEL;
    return *block + GUARD;
}

/* Number of sentinels that were overwritten outside the M x N part of C. */
static int count_outside_writes(const problem *p, const float *block) {
    int bad = 0;
    size_t n = (size_t)p->M * p->ldc + 2 * GUARD;
    for (size_t i = 0; i < n; i++) {
        long long off = (long long)i - GUARD;
        int inside = off >= 0 && off < (long long)p->M * p->ldc && (off % p->ldc) < p->N;
        if (!inside && block[i] != SENTINEL) bad++;
    }
    return bad;
}

static float a_at(const problem *p, int i, int k) {
    return p->tn ? p->A[(size_t)k * p->lda + i] : p->A[(size_t)i * p->lda + k];
}

static void run_path(const problem *p, mlp_kernels k, int threads, float *C) {
    if (p->tn)
        mlp_gemm_tn(k, threads, p->M, p->N, p->K, p->A, p->lda, p->B, p->ldb, C, p->ldc, NULL);
    else
        mlp_gemm_nn(k, threads, p->M, p->N, p->K, p->A, p->lda, p->B, p->ldb, p->bias, C, p->ldc, NULL);
}

static void run_ref(const problem *p, float *C) {
    if (p->tn)
        mlp_gemm_tn_ref(p->M, p->N, p->K, p->A, p->lda, p->B, p->ldb, C, p->ldc);
    else
        mlp_gemm_nn_ref(p->M, p->N, p->K, p->A, p->lda, p->B, p->ldb, p->bias, C, p->ldc);
}

/* Rows to verify element by element: all of them for small M, a sample (plus the last rows) for big M. */
static int row_checked(int i, int M) { return M <= 200 || i % 41 == 0 || i >= M - 7; }

/* The contract of internal.h computed one element at a time: the fma chain (SIMD paths) or the
 * c + a*b chain (portable; this file is compiled with -ffp-contract=off like the library). */
static float chain_element(const problem *p, int i, int n, int fused) {
    float c = p->bias ? p->bias[n] : 0.0f;
    for (int k = 0; k < p->K; k++) {
        float a = a_at(p, i, k), b = p->B[(size_t)k * p->ldb + n];
        c = fused ? fmaf(a, b, c) : c + a * b;
    }
    return c;
}

/* |C - ref| <= (K + 2) * eps * (|bias| + sum |a||b|): a sequential float sum of K products (each
 * product and addition rounded once, or once per fma) is within K * eps/2 * sum |terms| of the exact
 * value, and the reference's final rounding adds eps/2 * |result|. Returns the number of failures. */
static int compare_with_ref(const problem *p, const float *C, const float *ref, const char *what) {
    int bad = 0;
    for (int i = 0; i < p->M; i++) {
        if (!row_checked(i, p->M)) continue;
        for (int n = 0; n < p->N; n++) {
            double mag = p->bias ? fabs(p->bias[n]) : 0.0;
            for (int k = 0; k < p->K; k++) mag += fabs((double)a_at(p, i, k) * p->B[(size_t)k * p->ldb + n]);
            double tol = (p->K + 2) * (double)FLT_EPSILON * mag;
            float c = C[(size_t)i * p->ldc + n], r = ref[(size_t)i * p->ldc + n];
            if (!(fabs((double)c - (double)r) <= tol)) {
                if (bad == 0)
                    check_fail(__FILE__, __LINE__, "%s %s M=%d N=%d K=%d: C[%d][%d] = %.9g, reference %.9g (tol %g)",
                               what, p->tn ? "tn" : "nn", p->M, p->N, p->K, i, n, c, r, tol);
                bad++;
            }
        }
    }
    return bad;
}

static int compare_with_chain(const problem *p, const float *C, int fused, const char *what) {
    int bad = 0;
    for (int i = 0; i < p->M; i++) {
        if (!row_checked(i, p->M)) continue;
        for (int n = 0; n < p->N; n++) {
            float want = chain_element(p, i, n, fused), got = C[(size_t)i * p->ldc + n];
            if (memcmp(&want, &got, sizeof want) != 0) {
                if (bad == 0)
                    check_fail(__FILE__, __LINE__, "%s %s M=%d N=%d K=%d: C[%d][%d] = %.9g, chain gives %.9g", what,
                               p->tn ? "tn" : "nn", p->M, p->N, p->K, i, n, got, want);
                bad++;
            }
        }
    }
    return bad;
}

/* Bitwise comparison of the M x N parts of two C buffers. */
static int same_bits(const problem *p, const float *x, const float *y) {
    for (int i = 0; i < p->M; i++)
        if (memcmp(x + (size_t)i * p->ldc, y + (size_t)i * p->ldc, (size_t)p->N * sizeof(float)) != 0) return 0;
    return 1;
}

/* The shapes of training (batch 100) and evaluation, then awkward ones. */
typedef struct shape {
    int tn, M, N, K;
} shape;

static const shape training_shapes[] = {
    {0, 100, 128, 784}, /* forward layer 1 */
    {0, 100, 10, 128},  /* forward layer 2 */
    {0, 100, 32, 128},  /* forward 128 -> 32 */
    {0, 100, 10, 32},   /* forward 32 -> 10 */
    {0, 100, 128, 10},  /* input gradient through W2 */
    {0, 100, 128, 32},  /* input gradient through 128 -> 32 */
    {1, 128, 784, 100}, /* weight gradient layer 1 */
    {1, 10, 128, 100},  /* weight gradient layer 2 */
    {1, 32, 128, 100},  /* weight gradient 128 -> 32 */
    {0, 1000, 128, 784}, /* evaluation (sampled rows) */
    {0, 8, 784, 100},   /* few rows, many columns: the drivers split columns */
    {1, 6, 784, 100},
};

#define N_TRAINING (int)(sizeof training_shapes / sizeof training_shapes[0])
#define N_RANDOM 60

/* Problem number idx: the training shapes, then random awkward shapes (dims 1..70, padded leading
 * dimensions, bias or not), then K = 0. */
static problem problem_number(int idx) {
    if (idx < N_TRAINING) {
        const shape *s = &training_shapes[idx];
        return make_problem(s->tn, s->M, s->N, s->K, idx % 2, 1);
    }
    if (idx < N_TRAINING + N_RANDOM)
        return make_problem(rand_int(0, 1), rand_int(1, 70), rand_int(1, 70), rand_int(1, 70), rand_int(0, 1),
                            rand_int(0, 1));
    return make_problem(idx % 2, 7, 19, 0, 1, 1); /* K = 0: C = bias (nn) or 0 (tn) */
}
#define N_PROBLEMS (N_TRAINING + N_RANDOM + 2)

static const mlp_kernels paths[] = {MLP_KERNELS_PORTABLE, MLP_KERNELS_AVX2, MLP_KERNELS_AVX512};
#define N_PATHS 3

static int path_usable(mlp_kernels k) {
    if (mlp_kernels_supported(k)) return 1;
    printf("    %s kernels not supported here: not tested\n", mlp_kernels_name(k));
    return 0;
}

/* ------------------------------------------------------------------ tests */

TEST(gemm_kernel_names_and_resolution) {
    for (int k = 0; k < MLP_KERNELS_COUNT; k++) {
        mlp_kernels back = MLP_KERNELS_COUNT;
        CHECK_INT(mlp_kernels_parse(mlp_kernels_name((mlp_kernels)k), &back), 0);
        CHECK_INT(back, k);
    }
    CHECK(strcmp(mlp_kernels_name(MLP_KERNELS_AVX512), "avx512") == 0);
    CHECK(strcmp(mlp_kernels_name(MLP_KERNELS_PORTABLE), "portable") == 0);
    mlp_kernels untouched = MLP_KERNELS_AVX2;
    CHECK_INT(mlp_kernels_parse("avx1024", &untouched), -1);
    CHECK_INT(mlp_kernels_parse("", &untouched), -1);
    CHECK_INT(mlp_kernels_parse(NULL, &untouched), -1);
    CHECK_INT(untouched, MLP_KERNELS_AVX2);

    mlp_kernels best = mlp_kernels_resolve(MLP_KERNELS_AUTO);
    CHECK(best != MLP_KERNELS_AUTO);
    CHECK(mlp_kernels_supported(best));
    CHECK(mlp_kernel_table_get(best) != NULL);
    CHECK(mlp_kernel_table_get(MLP_KERNELS_AUTO) == NULL);
    CHECK(mlp_kernels_supported(MLP_KERNELS_PORTABLE));
    CHECK_INT(mlp_kernels_resolve(MLP_KERNELS_PORTABLE), MLP_KERNELS_PORTABLE);
    /* AUTO prefers the widest supported path; a request resolves to itself iff supported */
    if (mlp_kernels_supported(MLP_KERNELS_AVX512)) CHECK_INT(best, MLP_KERNELS_AVX512);
    else if (mlp_kernels_supported(MLP_KERNELS_AVX2)) CHECK_INT(best, MLP_KERNELS_AVX2);
    else CHECK_INT(best, MLP_KERNELS_PORTABLE);
    for (int i = 0; i < N_PATHS; i++) {
        mlp_kernels want = paths[i];
        CHECK_INT(mlp_kernels_resolve(want), mlp_kernels_supported(want) ? want : MLP_KERNELS_PORTABLE);
    }
    /* support follows the CPU features */
    CHECK_INT(mlp_kernels_supported(MLP_KERNELS_AVX2),
              mlp_kernel_table_get(MLP_KERNELS_AVX2) && mlp_cpu_has_avx2_fma());
    CHECK_INT(mlp_kernels_supported(MLP_KERNELS_AVX512),
              mlp_kernel_table_get(MLP_KERNELS_AVX512) && mlp_cpu_has_avx512f());
    CHECK(!mlp_kernels_supported(MLP_KERNELS_COUNT));
    CHECK(strcmp(mlp_kernels_name(MLP_KERNELS_COUNT), "unknown") == 0);
}

TEST(gemm_paths_match_reference_and_chain) {
    test_rng_state = 1;
    for (int pi = 0; pi < N_PATHS; pi++) {
        mlp_kernels path = paths[pi];
        if (!path_usable(path)) continue;
        const char *what = mlp_kernels_name(path);
        int fused = path != MLP_KERNELS_PORTABLE;
        for (int idx = 0; idx < N_PROBLEMS; idx++) {
            problem p = problem_number(idx);
            float *block, *ref_block;
            float *C = alloc_c(&p, &block), *ref = alloc_c(&p, &ref_block);
            run_path(&p, path, 1, C);
            if (p.M <= 200)
                run_ref(&p, ref);
            else /* the reference on the sampled rows only */
                for (int i = 0; i < p.M; i++)
                    if (row_checked(i, p.M)) {
                        problem row = p;
                        row.M = 1;
                        row.A = p.tn ? p.A + i : p.A + (size_t)i * p.lda;
                        run_ref(&row, ref + (size_t)i * p.ldc);
                    }
            int bad = compare_with_ref(&p, C, ref, what);
#if FLT_EVAL_METHOD == 0
            if (!bad) bad = compare_with_chain(&p, C, fused, what);
#else
            (void)fused;
#endif
            int outside = count_outside_writes(&p, block);
            CHECK_MSG(outside == 0, "%s %s M=%d N=%d K=%d ldc=%d: %d floats written outside C", what,
                      p.tn ? "tn" : "nn", p.M, p.N, p.K, p.ldc, outside);
            if (p.K == 0)
                for (int n = 0; n < p.N; n++) CHECK(C[n] == (p.bias ? p.bias[n] : 0.0f));
            free(block);
            free(ref_block);
            free_problem(&p);
        }
    }
}

/* Each element is one chain whatever the split, so 1, 2 and 7 threads give the same bits. */
TEST(gemm_thread_count_is_bitwise_invisible) {
    test_rng_state = 2;
    for (int pi = 0; pi < N_PATHS; pi++) {
        mlp_kernels path = paths[pi];
        if (!path_usable(path)) continue;
        for (int idx = 0; idx < N_TRAINING + 10; idx++) {
            problem p = problem_number(idx);
            float *b1, *b2, *b3;
            float *c1 = alloc_c(&p, &b1), *c2 = alloc_c(&p, &b2), *c3 = alloc_c(&p, &b3);
            run_path(&p, path, 1, c1);
            run_path(&p, path, 2, c2);
            run_path(&p, path, 7, c3);
            CHECK_MSG(same_bits(&p, c1, c2) && same_bits(&p, c1, c3), "%s %s M=%d N=%d K=%d: threads change the bits",
                      mlp_kernels_name(path), p.tn ? "tn" : "nn", p.M, p.N, p.K);
            CHECK_INT(count_outside_writes(&p, b2), 0);
            CHECK_INT(count_outside_writes(&p, b3), 0);
            free(b1);
            free(b2);
            free(b3);
            free_problem(&p);
        }
    }
}

/* Both SIMD paths run the same fma chains in the same order. */
TEST(gemm_avx2_and_avx512_bitwise_identical) {
    if (!mlp_kernels_supported(MLP_KERNELS_AVX2) || !mlp_kernels_supported(MLP_KERNELS_AVX512)) {
        check_skip("needs both the avx2 and the avx512 kernels");
        return;
    }
    test_rng_state = 3;
    for (int idx = 0; idx < N_PROBLEMS; idx++) {
        problem p = problem_number(idx);
        float *b2, *b5;
        float *c2 = alloc_c(&p, &b2), *c5 = alloc_c(&p, &b5);
        run_path(&p, MLP_KERNELS_AVX2, 1, c2);
        run_path(&p, MLP_KERNELS_AVX512, 2, c5);
        CHECK_MSG(same_bits(&p, c2, c5), "%s M=%d N=%d K=%d: avx2 and avx512 differ", p.tn ? "tn" : "nn", p.M, p.N,
                  p.K);
        free(b2);
        free(b5);
        free_problem(&p);
    }
}

/* Very large K and N: the SIMD kernels then walk B in column blocks and k chunks (C reloaded between
 * chunks); the result must still be the single chain. Checked on a few rows only. */
TEST(gemm_blocked_large_dimensions) {
    test_rng_state = 4;
    const shape big[] = {{0, 7, 1500, 200}, {0, 5, 70, 2600}, {1, 9, 1100, 150}, {1, 3, 40, 2300}, {1, 3, 20, 9000}};
    for (int pi = 0; pi < N_PATHS; pi++) {
        mlp_kernels path = paths[pi];
        if (!mlp_kernels_supported(path)) continue;
        for (int s = 0; s < 5; s++) {
            problem p = make_problem(big[s].tn, big[s].M, big[s].N, big[s].K, 1, 1);
            float *block;
            float *C = alloc_c(&p, &block);
            run_path(&p, path, 2, C);
#if FLT_EVAL_METHOD == 0
            compare_with_chain(&p, C, path != MLP_KERNELS_PORTABLE, mlp_kernels_name(path));
#endif
            CHECK_INT(count_outside_writes(&p, block), 0);
            free(block);
            free_problem(&p);
        }
    }
}

/* The optional BLAS path (a `make BLAS=...` build): held to the double reference on every problem (a BLAS
 * does not promise our chains, so neither the chain nor the thread-count bits are checked). */
TEST(gemm_blas_path_matches_reference) {
    if (!mlp_kernels_supported(MLP_KERNELS_BLAS)) {
        check_skip("not built with BLAS= (make BLAS=openblas)");
        return;
    }
    CHECK(mlp_kernels_resolve(MLP_KERNELS_AUTO) != MLP_KERNELS_BLAS);
    test_rng_state = 5;
    for (int idx = 0; idx < N_PROBLEMS; idx++) {
        problem p = problem_number(idx);
        float *block, *ref_block;
        float *C = alloc_c(&p, &block), *ref = alloc_c(&p, &ref_block);
        run_path(&p, MLP_KERNELS_BLAS, 2, C);
        if (p.M <= 200) run_ref(&p, ref);
        else
            for (int i = 0; i < p.M; i++)
                if (row_checked(i, p.M)) {
                    problem row = p;
                    row.M = 1;
                    row.A = p.tn ? p.A + i : p.A + (size_t)i * p.lda;
                    run_ref(&row, ref + (size_t)i * p.ldc);
                }
        compare_with_ref(&p, C, ref, "blas");
        CHECK_INT(count_outside_writes(&p, block), 0);
        free(block);
        free(ref_block);
        free_problem(&p);
    }
}

/* M = 0 or N = 0 must not touch anything (and A, B may then be anything). */
TEST(gemm_empty_shapes_write_nothing) {
    float C[4] = {1, 2, 3, 4}, A[4] = {1, 1, 1, 1}, B[4] = {1, 1, 1, 1};
    for (int pi = 0; pi < N_PATHS; pi++) {
        mlp_kernels path = paths[pi];
        if (!mlp_kernels_supported(path)) continue;
        mlp_gemm_nn(path, 2, 0, 2, 2, A, 2, B, 2, NULL, C, 2, NULL);
        mlp_gemm_nn(path, 2, 2, 0, 2, A, 2, B, 2, NULL, C, 2, NULL);
        mlp_gemm_tn(path, 2, 0, 2, 2, A, 2, B, 2, C, 2, NULL);
        mlp_gemm_tn(path, 2, 2, 0, 2, A, 2, B, 2, C, 2, NULL);
    }
    CHECK(C[0] == 1 && C[1] == 2 && C[2] == 3 && C[3] == 4);
}
