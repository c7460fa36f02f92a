/* bench_gemm.c - GFLOPS of each kernel path on the shapes of training and evaluation, 1 and 2 threads.
 *
 * Standalone (not part of the test build). Build and run from the repository root:
 *   gcc -std=c11 -O2 -fopenmp -ffp-contract=off -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc \
 *       bench/bench_gemm.c src/gemm.c src/gemm_avx2.c src/gemm_avx512.c src/cpu.c -o /tmp/bench_gemm -lm
 *   /tmp/bench_gemm [reps] [best]
 * Each figure is the median (or, with `best`, the maximum) over `reps` (default 21) timed runs, each
 * run repeating the call enough times to last about 2 ms. FLOP = 2 * M * N * K. The machines are
 * shared: the best run shows what the kernel can do, the median what one gets. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct shape {
    const char *name;
    int tn; /* 0: gemm_nn (C = bias + A B), 1: gemm_tn (C = A^T B) */
    int M, N, K;
} shape;

static const shape shapes[] = {
    {"fwd1     nn 100x128x784", 0, 100, 128, 784},
    {"fwd2     nn 100x10x128", 0, 100, 10, 128},
    {"fwd2b    nn 100x32x128", 0, 100, 32, 128},
    {"dx2      nn 100x128x10", 0, 100, 128, 10},
    {"dx2b     nn 100x128x32", 0, 100, 128, 32},
    {"wgrad1   tn 128x784x100", 1, 128, 784, 100},
    {"wgrad2   tn 10x128x100", 1, 10, 128, 100},
    {"wgrad1t  tn 784x128x100", 1, 784, 128, 100},
    {"eval     nn 10000x128x784", 0, 10000, 128, 784},
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void fill(float *x, size_t n, unsigned *state) {
    for (size_t i = 0; i < n; i++) {
        *state = *state * 1664525u + 1013904223u;
        x[i] = (float)((*state >> 8) & 0xFFFF) / 65536.0f - 0.5f;
    }
}

static void call(const shape *s, mlp_kernels k, int threads, const float *A, const float *B, const float *bias,
                 float *C) {
    if (s->tn)
        mlp_gemm_tn(k, threads, s->M, s->N, s->K, A, s->M, B, s->N, C, s->N);
    else
        mlp_gemm_nn(k, threads, s->M, s->N, s->K, A, s->K, B, s->N, bias, C, s->N);
}

/* Median (or best) GFLOPS of one (shape, path, threads). */
static double measure(const shape *s, mlp_kernels k, int threads, int reps, int best, const float *A,
                      const float *B, const float *bias, float *C) {
    double flop = 2.0 * s->M * s->N * s->K;
    int inner = (int)(2e-3 / (flop / 100e9)) + 1; /* about 2 ms per timed run at 100 GFLOPS */
    double *gf = malloc(sizeof(double) * (size_t)reps);
    call(s, k, threads, A, B, bias, C); /* warm up caches and the thread pool */
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (int i = 0; i < inner; i++) call(s, k, threads, A, B, bias, C);
        gf[r] = flop * inner / (now() - t0) * 1e-9;
    }
    qsort(gf, (size_t)reps, sizeof(double), cmp_double);
    double result = best ? gf[reps - 1] : gf[reps / 2];
    free(gf);
    return result;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 21;
    if (reps < 1) reps = 1;
    int best = argc > 2 && strcmp(argv[2], "best") == 0;
    unsigned state = 12345;
    size_t max_elems = (size_t)10000 * 784;
    float *A = malloc(max_elems * sizeof(float)), *B = malloc(max_elems * sizeof(float));
    float *C = malloc((size_t)10000 * 784 * sizeof(float)), *bias = malloc(1024 * sizeof(float));
    if (!A || !B || !C || !bias) return 1;
    fill(A, max_elems, &state);
    fill(B, max_elems, &state);
    fill(bias, 1024, &state);

    printf("GFLOPS, %s of %d runs (1 thread / 2 threads)\n%-26s", best ? "best" : "median", reps, "shape");
    for (int k = MLP_KERNELS_PORTABLE; k < MLP_KERNELS_COUNT; k++)
        printf(" %17s", mlp_kernels_name((mlp_kernels)k));
    printf("\n");
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const shape *s = &shapes[si];
        printf("%-26s", s->name);
        for (int k = MLP_KERNELS_PORTABLE; k < MLP_KERNELS_COUNT; k++) {
            if (!mlp_kernels_supported((mlp_kernels)k)) {
                printf(" %17s", "unsupported");
                continue;
            }
            double g1 = measure(s, (mlp_kernels)k, 1, reps, best, A, B, bias, C);
            double g2 = measure(s, (mlp_kernels)k, 2, reps, best, A, B, bias, C);
            printf(" %8.1f /%7.1f", g1, g2);
        }
        printf("\n");
        fflush(stdout);
    }
    free(A);
    free(B);
    free(C);
    free(bias);
    return 0;
}
