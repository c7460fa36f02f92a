/* bench.c - `make bench`: how fast training runs on this machine, and how far from the hardware's limit.
 *
 *   mlp_bench [--quick] [--epochs N] [--no-matrix] [--paths LIST]     (MLP_DATA: the MNIST folder)
 *
 * Prints, in order:
 *   1. the machine (CPU model, cpuid family/model) and the kernel paths this build and CPU support;
 *   2. the measured FMA peak: a loop of 12 independent FMA chains per thread (AVX-512 and AVX2), 1 and 2 threads;
 *   3. GFLOPS of each kernel path on the products of training (batch 100) and evaluation, 1 and 2 threads
 *      (these go through the per-product threaded drivers; training itself splits whole steps, see 4);
 *   4. seconds per epoch (600 steps of batch 100 + evaluation of the 10000 test images, the default
 *      configuration: gelu + hinge, summed gradients) for 784-128-10 and 784-128-32-10, with the first layer
 *      dense and sparse (mlp_net.input_sparse), with 1 and 2 threads: the median of --epochs epochs (default 5)
 *      after one warm-up epoch; next to it the FMA floor (the epoch's dense FLOP at the measured peak of that many
 *      cores) and the fraction of it reached (above 100%: faster than any dense computation can be);
 *   5. evaluation throughput (forward + loss, test set, batches of 1000): images/s, dense and sparse, 1 and 2
 *      threads;
 *   6. (unless --no-matrix) one epoch of every activation x loss, 784-128-10, sparse, 2 threads, relative to
 *      gelu+ce.
 * A build with `make BLAS=openblas` has the "blas" path too (cblas_sgemm for the products, our epilogues):
 * it shows up in 3 and 4 as one more path.
 * The machine is shared: figures are medians; compare figures from the same run. */
#include "kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && !defined(MLP_NO_SIMD)
#define BENCH_X86 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define BENCH_X86 0
#endif

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ------------------------------------------------------------------ 1. the machine */

static void print_machine(void) {
    char model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "model name", 10) == 0) {
                const char *p = strchr(line, ':');
                if (p) {
                    snprintf(model, sizeof model, "%s", p + 2);
                    model[strcspn(model, "\n")] = '\0';
                }
                break;
            }
        fclose(f);
    }
    printf("machine: %s", model);
#if BENCH_X86
    unsigned a, b, c, d;
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        unsigned fam = (a >> 8) & 0xf, mod = (a >> 4) & 0xf;
        if (fam == 0xf) fam += (a >> 20) & 0xff;
        if (fam >= 6) mod |= ((a >> 16) & 0xf) << 4;
        printf(", cpuid family %u model %u", fam, mod);
    }
#endif
#ifdef _OPENMP
    printf(", %d logical CPUs", omp_get_num_procs());
#endif
    printf("\nkernel paths:");
    for (int k = MLP_KERNELS_PORTABLE; k < MLP_KERNELS_COUNT; k++)
        printf(" %s%s", mlp_kernels_name((mlp_kernels)k), mlp_kernels_supported((mlp_kernels)k) ? "" : " (unsupported)");
    printf("; auto = %s\n\n", mlp_kernels_name(mlp_kernels_resolve(MLP_KERNELS_AUTO)));
}

/* ------------------------------------------------------------------ 2. FMA peak */

#define CHAINS 12
/* 12 named accumulators (an array would be kept in memory by some compilers) */
/* (the empty asm makes every chain opaque to the compiler: it must not merge identical chains) */
#define FMA12(F, T)                                                                                          \
    T a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z, a8 = z, a9 = z, a10 = z, a11 = z;       \
    __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5));                      \
    __asm__ volatile("" : "+x"(a6), "+x"(a7), "+x"(a8), "+x"(a9), "+x"(a10), "+x"(a11));                    \
    for (long i = 0; i < iters; i++) {                                                                       \
        a0 = F(a0, m, c), a1 = F(a1, m, c), a2 = F(a2, m, c), a3 = F(a3, m, c), a4 = F(a4, m, c);             \
        a5 = F(a5, m, c), a6 = F(a6, m, c), a7 = F(a7, m, c), a8 = F(a8, m, c), a9 = F(a9, m, c);             \
        a10 = F(a10, m, c), a11 = F(a11, m, c);                                                              \
    }
#if BENCH_X86
__attribute__((target("avx512f"))) static float fma_loop_avx512(long iters) {
    const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f), z = _mm512_set1_ps(1.0f);
    FMA12(_mm512_fmadd_ps, __m512)
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    float t[16];
    _mm512_storeu_ps(t, s);
    return t[0];
}
__attribute__((target("avx2,fma"))) static float fma_loop_avx2(long iters) {
    const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f), z = _mm256_set1_ps(1.0f);
    FMA12(_mm256_fmadd_ps, __m256)
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    float t[8];
    _mm256_storeu_ps(t, s);
    return t[0];
}
#endif

static volatile float g_sink;

/* GFLOPS of `threads` threads each running the loop (median of 5 runs of ~0.1 s). */
static double fma_peak(int wide, int threads) {
#if BENCH_X86
    const long iters = wide == 16 ? 2000000 : 4000000;
    const double flop = 2.0 * wide * CHAINS * (double)iters * threads;
    double r[5];
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
#pragma omp parallel num_threads(threads)
        {
            float s = wide == 16 ? fma_loop_avx512(iters) : fma_loop_avx2(iters);
#pragma omp critical
            g_sink += s;
        }
        r[rep] = flop / (now() - t0) * 1e-9;
    }
    return median(r, 5);
#else
    (void)wide;
    (void)threads;
    return 0;
#endif
}

/* ------------------------------------------------------------------ 3. kernel GFLOPS */

typedef struct shape {
    const char *name;
    int tn, M, N, K;
} shape;

static const shape shapes[] = {
    {"fwd1    nn 100x128x784", 0, 100, 128, 784},   {"fwd1/2  nn 100x64x784", 0, 100, 64, 784},
    {"wgrad1  tn 784x128x100", 1, 784, 128, 100},  {"wgrad1/2 tn 784x64x100", 1, 784, 64, 100},
    {"fwd2    nn 100x10x128", 0, 100, 10, 128},     {"dx2     nn 100x128x10", 0, 100, 128, 10},
    {"wgrad2  tn 10x128x100", 1, 10, 128, 100},     {"fwd2b   nn 100x32x128", 0, 100, 32, 128},
    {"eval    nn 1000x128x784", 0, 1000, 128, 784},
};

static void fill(float *x, size_t n, unsigned *state) {
    for (size_t i = 0; i < n; i++) {
        *state = *state * 1664525u + 1013904223u;
        x[i] = (float)((*state >> 8) & 0xFFFF) / 65536.0f - 0.5f;
    }
}

static void gemm_call(const shape *s, mlp_kernels k, int threads, const float *A, const float *B, const float *bias,
                      float *C) {
    if (s->tn)
        mlp_gemm_tn(k, threads, s->M, s->N, s->K, A, s->M, B, s->N, C, s->N, NULL);
    else
        mlp_gemm_nn(k, threads, s->M, s->N, s->K, A, s->K, B, s->N, bias, C, s->N, NULL);
}

static double gemm_gflops(const shape *s, mlp_kernels k, int threads, int reps, const float *A, const float *B,
                          const float *bias, float *C) {
    const double flop = 2.0 * s->M * s->N * s->K;
    const int inner = (int)(2e-3 / (flop / 100e9)) + 1; /* ~2 ms per timed run at 100 GFLOPS */
    double r[64];
    if (reps > 64) reps = 64;
    gemm_call(s, k, threads, A, B, bias, C);
    for (int rep = 0; rep < reps; rep++) {
        double t0 = now();
        for (int i = 0; i < inner; i++) gemm_call(s, k, threads, A, B, bias, C);
        r[rep] = flop * inner / (now() - t0) * 1e-9;
    }
    return median(r, reps);
}

/* ------------------------------------------------------------------ 4.-6. training and evaluation */

/* FLOP of one epoch: per step 2*b*(forward + weight gradients + input gradients of layers >= 1), plus the
 * forward pass of the test set. */
static double epoch_flop(const mlp_arch *a, int n_train, int batch, int n_test) {
    double fwd = 0, dx = 0;
    for (int l = 0; l < a->n_layers; l++) {
        const double w = (double)a->width[l] * a->width[l + 1];
        fwd += w;
        if (l > 0) dx += w;
    }
    const int steps = (n_train + batch - 1) / batch;
    (void)steps;
    return 2.0 * n_train * (2 * fwd + dx) + 2.0 * n_test * fwd;
}

typedef struct bench_data {
    mlp_dataset train, test;
} bench_data;

/* Median seconds per epoch (after `warm` warm-up epochs) of `epochs` epochs, with the first layer dense
 * (sparse = 0) or sparse when the data allow it (1). *acc gets the last test accuracy. */
static double time_epochs(const bench_data *d, const char *hidden, mlp_act act, mlp_loss loss, mlp_kernels k,
                          int threads, int sparse, int warm, int epochs, double *acc) {
    mlp_arch arch;
    mlp_net net;
    mlp_error err;
    mlp_trainer t;
    if (mlp_arch_parse(&arch, hidden, d->train.dim, 10, act, &err) || mlp_net_create(&net, &arch, 1000, &err)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        exit(1);
    }
    mlp_train_cfg cfg = mlp_train_cfg_default();
    cfg.loss = mlp_loss_default(loss);
    mlp_rng rng;
    mlp_rng_seed(&rng, cfg.seed, 1);
    mlp_net_init(&net, cfg.init_std, &rng);
    net.input_sparse = sparse;
    if (mlp_net_set_exec(&net, threads, k, &err) || mlp_trainer_init(&t, &net, &cfg, &d->train, &d->test, &err)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        exit(1);
    }
    double sec[64];
    if (epochs > 64) epochs = 64;
    mlp_epoch_metrics m;
    memset(&m, 0, sizeof m);
    for (int e = 0; e < warm + epochs; e++) {
        if (mlp_trainer_epoch(&t, &m, &err)) {
            fprintf(stderr, "bench: %s\n", err.msg);
            exit(1);
        }
        if (e >= warm) sec[e - warm] = m.seconds;
    }
    if (acc) *acc = m.test_acc;
    mlp_trainer_free(&t);
    mlp_net_free(&net);
    return median(sec, epochs);
}

/* The fast-learning run of issue 10 (gelu + ce, mean gradients, lr 0.1, wd 1e-4, batch 100, sparse first layer
 * as by default): seconds of each of `epochs` epochs (no warm-up: the point is how the time changes as the
 * run learns) into sec[]. */
static void fast_learning(const bench_data *d, mlp_kernels k, int threads, int epochs, double *sec, double *acc) {
    mlp_arch arch;
    mlp_net net;
    mlp_error err;
    mlp_trainer t;
    if (mlp_arch_parse(&arch, "128", d->train.dim, 10, MLP_ACT_GELU, &err) || mlp_net_create(&net, &arch, 1000, &err)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        exit(1);
    }
    mlp_train_cfg cfg = mlp_train_cfg_default();
    cfg.loss = mlp_loss_default(MLP_LOSS_CE);
    cfg.reduction = MLP_GRAD_MEAN;
    cfg.lr = 0.1f;
    cfg.wd = 1e-4f;
    mlp_rng rng;
    mlp_rng_seed(&rng, cfg.seed, 1);
    mlp_net_init(&net, cfg.init_std, &rng);
    if (mlp_net_set_exec(&net, threads, k, &err) || mlp_trainer_init(&t, &net, &cfg, &d->train, &d->test, &err)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        exit(1);
    }
    mlp_epoch_metrics m;
    for (int e = 0; e < epochs; e++) {
        if (mlp_trainer_epoch(&t, &m, &err)) {
            fprintf(stderr, "bench: %s\n", err.msg);
            exit(1);
        }
        sec[e] = m.seconds;
    }
    *acc = m.test_acc;
    mlp_trainer_free(&t);
    mlp_net_free(&net);
}

/* Images per second of mlp_evaluate on the test set (median of `reps`). */
static double eval_rate(const bench_data *d, mlp_kernels k, int threads, int sparse, int reps) {
    mlp_arch arch;
    mlp_net net;
    mlp_error err;
    if (mlp_arch_parse(&arch, "128", d->test.dim, 10, MLP_ACT_GELU, &err) || mlp_net_create(&net, &arch, 1000, &err) ||
        mlp_net_set_exec(&net, threads, k, &err)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        exit(1);
    }
    mlp_rng rng;
    mlp_rng_seed(&rng, 1, 1);
    mlp_net_init(&net, 0.01f, &rng);
    net.input_sparse = sparse;
    mlp_loss_cfg lc = mlp_loss_default(MLP_LOSS_HINGE);
    double r[64], loss, acc;
    if (reps > 64) reps = 64;
    mlp_evaluate(&net, &lc, &d->test, &loss, &acc, NULL, &err);
    for (int rep = 0; rep < reps; rep++) {
        double t0 = now();
        mlp_evaluate(&net, &lc, &d->test, &loss, &acc, NULL, &err);
        r[rep] = d->test.n / (now() - t0);
    }
    mlp_net_free(&net);
    return median(r, reps);
}

static int path_selected(const char *list, mlp_kernels k) {
    if (!mlp_kernels_supported(k)) return 0;
    if (!list) return k != MLP_KERNELS_PORTABLE; /* the portable path is ~5x slower: only on request */
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ","))
        if (strcmp(tok, mlp_kernels_name(k)) == 0) return 1;
    return 0;
}

int main(int argc, char **argv) {
    int quick = 0, epochs = 5, matrix = 1;
    const char *paths = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1, epochs = 3;
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc) epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-matrix")) matrix = 0;
        else if (!strcmp(argv[i], "--paths") && i + 1 < argc) paths = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--quick] [--epochs N] [--no-matrix] [--paths portable,avx2,avx512,blas]\n",
                    argv[0]);
            return 2;
        }
    }
    if (epochs < 1) epochs = 1;
    print_machine();

    /* 2. */
    double peak1 = 0, peak2 = 0;
#if BENCH_X86
    printf("FMA peak (12 chains per thread, GFLOPS):\n");
    for (int wide = 16; wide >= 8; wide /= 2) {
        const int ok = wide == 16 ? mlp_cpu_has_avx512f() : mlp_cpu_has_avx2_fma();
        if (!ok) continue;
        double g1 = fma_peak(wide, 1), g2 = fma_peak(wide, 2);
        printf("  %-8s 1 thread %7.1f   2 threads %7.1f\n", wide == 16 ? "avx512" : "avx2", g1, g2);
        if (g1 > peak1) peak1 = g1;
        if (g2 > peak2) peak2 = g2;
    }
    printf("\n");
#endif

    /* 3. */
    {
        const int reps = quick ? 5 : 11;
        unsigned state = 12345;
        const size_t max_elems = (size_t)1000 * 784;
        float *A = malloc(max_elems * sizeof(float)), *B = malloc(max_elems * sizeof(float));
        float *C = malloc(max_elems * sizeof(float)), *bias = malloc(1024 * sizeof(float));
        fill(A, max_elems, &state);
        fill(B, max_elems, &state);
        fill(bias, 1024, &state);
        printf("kernel GFLOPS at the training shapes, median of %d (1 thread / 2 threads):\n%-26s", reps, "shape");
        for (int k = MLP_KERNELS_PORTABLE; k < MLP_KERNELS_COUNT; k++)
            if (mlp_kernels_supported((mlp_kernels)k)) printf(" %17s", mlp_kernels_name((mlp_kernels)k));
        printf("\n");
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
            printf("%-26s", shapes[si].name);
            for (int k = MLP_KERNELS_PORTABLE; k < MLP_KERNELS_COUNT; k++) {
                if (!mlp_kernels_supported((mlp_kernels)k)) continue;
                double g1 = gemm_gflops(&shapes[si], (mlp_kernels)k, 1, reps, A, B, bias, C);
                double g2 = gemm_gflops(&shapes[si], (mlp_kernels)k, 2, reps, A, B, bias, C);
                printf(" %8.1f /%7.1f", g1, g2);
            }
            printf("\n");
            fflush(stdout);
        }
        printf("\n");
        free(A), free(B), free(C), free(bias);
    }

    /* 4.-6. need MNIST */
    const char *dir = getenv("MLP_DATA");
    bench_data d;
    mlp_error err;
    if (!dir) dir = "data/mnist";
    if (mlp_dataset_load_dir(&d.train, &d.test, dir, mlp_scaling_default(), &err)) {
        printf("training figures skipped: %s (set MLP_DATA to the MNIST folder)\n", err.msg);
        return 0;
    }
    static const char *archs[] = {"128", "128,32"};
    printf("seconds per epoch (the default configuration: gelu + hinge, batch 100; 600 steps + the test set;\n"
           "median of %d epochs after 1 warm-up). first layer: dense products, or sparse around the background\n"
           "value (the default on MNIST). GFLOPS and the floor count the dense FLOP of an epoch.\n",
           epochs);
    printf("  %-14s %-9s %-7s %7s %9s %9s %9s %9s %7s\n", "network", "path", "layer1", "threads", "s/epoch", "GFLOPS",
           "floor s", "of floor", "test");
    for (int a = 0; a < 2; a++) {
        mlp_arch arch;
        mlp_arch_parse(&arch, archs[a], d.train.dim, 10, MLP_ACT_GELU, &err);
        char name[64];
        mlp_arch_format(&arch, name, sizeof name);
        const double flop = epoch_flop(&arch, d.train.n, 100, d.test.n);
        for (int k = MLP_KERNELS_PORTABLE; k < MLP_KERNELS_COUNT; k++) {
            if (!path_selected(paths, (mlp_kernels)k)) continue;
            for (int sparse = 0; sparse <= 1; sparse++)
                for (int th = 1; th <= 2; th++) {
                    double acc;
                    double s = time_epochs(&d, archs[a], MLP_ACT_GELU, MLP_LOSS_HINGE, (mlp_kernels)k, th, sparse, 1,
                                           epochs, &acc);
                    const double peak = th == 1 ? peak1 : peak2;
                    const double floor_s = peak > 0 ? flop / (peak * 1e9) : 0;
                    printf("  %-14s %-9s %-7s %7d %9.4f %9.1f %9.4f %8.0f%% %7.4f\n", name,
                           mlp_kernels_name((mlp_kernels)k), sparse ? "sparse" : "dense", th, s, flop / s * 1e-9,
                           floor_s, floor_s > 0 ? 100 * floor_s / s : 0, acc);
                    fflush(stdout);
                }
        }
    }
    printf("  (an epoch of 784-128-10 is %.2f GFLOP dense, of 784-128-32-10 %.2f GFLOP; the FMA floor is that at the\n"
           "  measured peak of 1 or 2 cores)\n\n",
           epoch_flop(&(mlp_arch){2, {784, 128, 10}, MLP_ACT_GELU}, d.train.n, 100, d.test.n) * 1e-9,
           epoch_flop(&(mlp_arch){3, {784, 128, 32, 10}, MLP_ACT_GELU}, d.train.n, 100, d.test.n) * 1e-9);

    printf("evaluation, 784-128-10 forward + loss over the %d test images (batches of 1000), images/s:\n", d.test.n);
    for (int k = MLP_KERNELS_PORTABLE; k < MLP_KERNELS_COUNT; k++) {
        if (!path_selected(paths, (mlp_kernels)k)) continue;
        for (int sparse = 0; sparse <= 1; sparse++)
            printf("  %-9s %-7s 1 thread %10.0f   2 threads %10.0f\n", mlp_kernels_name((mlp_kernels)k),
                   sparse ? "sparse" : "dense", eval_rate(&d, (mlp_kernels)k, 1, sparse, quick ? 5 : 11),
                   eval_rate(&d, (mlp_kernels)k, 2, sparse, quick ? 5 : 11));
    }
    printf("\n");

    {
        enum { FL_EPOCHS = 8 };
        printf("a fast-learning run (mlp train --act gelu --loss ce --grad-reduction mean --lr 0.1 --wd 1e-4 --threads 1),\n"
               "%d epochs, s/epoch: with subnormals flushed to zero (the library's mode) and with IEEE subnormals\n"
               "(for comparison); target: the slowest epoch within 15%% of the fastest\n",
               FL_EPOCHS);
        for (int k = MLP_KERNELS_PORTABLE; k < MLP_KERNELS_COUNT; k++) {
            if (k != MLP_KERNELS_PORTABLE && !path_selected(paths, (mlp_kernels)k)) continue;
            if (k == MLP_KERNELS_BLAS) continue;
            for (int ieee = 0; ieee <= 1; ieee++) {
                double sec[FL_EPOCHS], acc, lo = 1e300, hi = 0;
                mlp_fpmode_ieee = ieee;
                fast_learning(&d, (mlp_kernels)k, 1, FL_EPOCHS, sec, &acc);
                mlp_fpmode_ieee = 0;
                printf("  %-9s %-5s", mlp_kernels_name((mlp_kernels)k), ieee ? "IEEE" : "flush");
                for (int e = 0; e < FL_EPOCHS; e++) {
                    printf(" %6.3f", sec[e]);
                    if (sec[e] < lo) lo = sec[e];
                    if (sec[e] > hi) hi = sec[e];
                }
                printf("   first %.3f last %.3f  slowest/fastest %.2f  test %.4f\n", sec[0], sec[FL_EPOCHS - 1],
                       hi / lo, acc);
                fflush(stdout);
            }
        }
        printf("\n");
    }

    if (matrix) {
        const mlp_kernels best = mlp_kernels_resolve(MLP_KERNELS_AUTO);
        printf("every activation x loss, 784-128-10, %s, sparse first layer, 2 threads: s/epoch (one epoch after a\n"
               "warm-up), and relative to gelu+ce\n  %-8s",
               mlp_kernels_name(best), "");
        for (int l = 0; l < MLP_LOSS_COUNT; l++) printf(" %15s", mlp_loss_name((mlp_loss)l));
        printf("\n");
        double ref = time_epochs(&d, "128", MLP_ACT_GELU, MLP_LOSS_CE, best, 2, 1, 1, quick ? 1 : 3, NULL);
        for (int a = 0; a < MLP_ACT_COUNT; a++) {
            printf("  %-8s", mlp_act_name((mlp_act)a));
            for (int l = 0; l < MLP_LOSS_COUNT; l++) {
                double s = time_epochs(&d, "128", (mlp_act)a, (mlp_loss)l, best, 2, 1, 1, 1, NULL);
                printf("  %7.4f %5.0f%%", s, 100 * s / ref);
                fflush(stdout);
            }
            printf("\n");
        }
    }
    mlp_dataset_free(&d.train);
    mlp_dataset_free(&d.test);
    return 0;
}
