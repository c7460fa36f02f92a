/* bench.c - `make bench`: how fast training runs on this machine, how far from the hardware's limit, and how it
 * compares with PyTorch in the same run.
 *
 *   mlp_bench [--quick] [--epochs N] [--paths LIST] [--only SECTIONS]     (MLP_DATA: the MNIST folder)
 *
 * Prints, in order (--only picks sections: peak,kernels,wide,epochs,eval,peers,fast,options,matrix):
 *   1. the machine (CPU model, cpuid family/model), the kernel paths, the load average (start and end);
 *   2. peak: the measured FMA peak, 12 independent FMA chains per thread (AVX-512 and AVX2), 1 and 2 threads;
 *   3. kernels: GFLOPS of each kernel path on the products of 784-128-10 (batch 100) and the evaluation;
 *   4. wide: the three products of a wide hidden layer (batch 32-1000, width 256-4096) with the training step's
 *      fused epilogues, GFLOPS and % of the FMA peak of 1 and 2 cores (the targets: 70% and 60%);
 *   5. epochs: seconds per epoch (600 steps of batch 100 + the 10000 test images) of 784-128-10 and
 *      784-128-32-10 in the default configuration (gelu + hinge, summed gradients), first layer dense and sparse,
 *      and of 784-1024-1024-10 (relu + ce), 1 and 2 threads, with the fraction of the FMA floor and the
 *      two-thread speed-up;
 *   6. eval: evaluation throughput (forward + loss, test set, batches of 1000), images/s;
 *   7. peers: the same runs in PyTorch (bench/peers/torch_mlp.py, when /usr/bin/python3 has torch; MLP_PYTHON
 *      names another interpreter) and mlp's speed as a ratio;
 *   8. fast: a fast-learning run's 8 epochs side by side, subnormals flushed (the library) and IEEE;
 *   9. options: the training options of issue 12 (Nesterov, Adam, AdamW, dropout) on 784-128-10 against plain
 *      SGD, their epochs interleaved, as a ratio;
 *  10. matrix: one epoch of every activation x loss relative to gelu+ce (not with --quick).
 * A build with `make BLAS=openblas` has the "blas" path too (cblas_sgemm for the products, our epilogues).
 * With --quick the 784-1024-1024-10 epochs are one warm-up and one timed epoch (the PyTorch ratio needs them).
 * Timings are the best of several runs (rates: the highest): on a shared machine that is the figure least
 * disturbed by other work; the load average is printed so that a disturbed run shows. Compare figures from the
 * same run; --quick is a shorter run (~1-2 minutes) with fewer repetitions. */
#include "kernels.h"
#include "util.h"

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

/* This thread's CPU time: on one thread, the time it actually ran (a busy machine deschedules it for whole
 * time slices, which wall time would count). */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The best of n measurements (a rate: the largest; a time: the smallest): what the machine can do when nothing
 * else interferes, the most stable statistic on a shared machine. */
static double best_rate(const double *v, int n) {
    double b = v[0];
    for (int i = 1; i < n; i++) b = v[i] > b ? v[i] : b;
    return b;
}
static double best_time(const double *v, int n) {
    double b = v[0];
    for (int i = 1; i < n; i++) b = v[i] < b ? v[i] : b;
    return b;
}

/* The 1-minute load average (other processes competing for the cores), or -1. */
static double load1(void) {
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1;
        fclose(f);
    }
    return l;
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

/* GFLOPS of `threads` threads each running the loop: the best of 15 runs of ~1 ms (short runs: on a shared
 * machine some of them run without being descheduled). */
static double fma_peak(int wide, int threads) {
#if BENCH_X86
    const long iters = wide == 16 ? 500000 : 1000000;
    const double flop = 2.0 * wide * CHAINS * (double)iters * threads;
    double r[15];
    for (int rep = 0; rep < 15; rep++) {
        double t0 = now();
#pragma omp parallel num_threads(threads)
        {
            float s = wide == 16 ? fma_loop_avx512(iters) : fma_loop_avx2(iters);
#pragma omp critical
            g_sink += s;
        }
        r[rep] = flop / (now() - t0) * 1e-9;
    }
    return best_rate(r, 15);
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
    mlp_epi_kind epi; /* the epilogue the training step runs on this product (NONE: plain) */
} shape;

/* The products of an epoch of 784-128-10 (batch 100) and of the evaluation. */
static const shape shapes[] = {
    {"fwd1    nn 100x128x784", 0, 100, 128, 784, MLP_EPI_NONE},  {"fwd1/2  nn 100x64x784", 0, 100, 64, 784, MLP_EPI_NONE},
    {"wgrad1  tn 784x128x100", 1, 784, 128, 100, MLP_EPI_NONE}, {"wgrad1/2 tn 784x64x100", 1, 784, 64, 100, MLP_EPI_NONE},
    {"fwd2    nn 100x10x128", 0, 100, 10, 128, MLP_EPI_NONE},    {"dx2     nn 100x128x10", 0, 100, 128, 10, MLP_EPI_NONE},
    {"wgrad2  tn 10x128x100", 1, 10, 128, 100, MLP_EPI_NONE},    {"fwd2b   nn 100x32x128", 0, 100, 32, 128, MLP_EPI_NONE},
    {"eval    nn 1000x128x784", 0, 1000, 128, 784, MLP_EPI_NONE},
};

/* The three products of a wide hidden layer (W x W, batch B) as the training step runs them, with their fused
 * epilogues: forward  U[B x W] = bias + A[B x W] Wt[W x W], then f and f' (relu);
 *            input gradient  G'[B x W] = (G[B x W] W[W x W]) * f';
 *            weight gradient dW[W x W] = G^T A with the SGD rule applied in registers. */
typedef struct wide_shape {
    int B, W;
} wide_shape;
static const wide_shape wide_shapes[] = {{32, 1024}, {100, 256}, {100, 1024}, {100, 4096}, {1000, 1024}};
enum { WIDE_MAX_B = 1000, WIDE_MAX_W = 4096 };

static void fill(float *x, size_t n, unsigned *state) {
    for (size_t i = 0; i < n; i++) {
        *state = *state * 1664525u + 1013904223u;
        x[i] = (float)((*state >> 8) & 0xFFFF) / 65536.0f - 0.5f;
    }
}

/* n floats (mlp_alloc_block: huge pages for big operands, as the library uses; NULL when out of memory) */
static float *big_floats(size_t n) { return mlp_alloc_block(n * sizeof(float)); }

/* Operands for any shape above: A, B, C, and the epilogue's buffers (f, d, w, v), each big enough. */
typedef struct operands {
    float *A, *B, *C, *bias, *F, *D, *W, *V;
} operands;

static mlp_epi shape_epi(const shape *s, const operands *o) {
    mlp_epi e = {.kind = s->epi, .act = MLP_ACT_RELU, .f = o->F, .ldf = s->N, .d = o->D, .ldd = s->N,
                 .w = o->W, .v = o->V, .ldw = s->N, .lr = 1e-6f, .wd = 1e-4f, .mom = 0.9f};
    return e;
}

static void gemm_call(const shape *s, mlp_kernels k, int threads, const operands *o) {
    const mlp_epi e = shape_epi(s, o);
    const mlp_epi *ep = s->epi == MLP_EPI_NONE ? NULL : &e;
    if (s->tn)
        mlp_gemm_tn(k, threads, s->M, s->N, s->K, o->A, s->M, o->B, s->N, o->C, s->N, ep);
    else
        mlp_gemm_nn(k, threads, s->M, s->N, s->K, o->A, s->K, o->B, s->N, s->epi == MLP_EPI_ACT ? o->bias : NULL, o->C,
                    s->N, ep);
}

/* GFLOPS of a product: the best of `reps` timed runs of at least ~2 ms each (on one thread, of CPU time). */
static double gemm_gflops(const shape *s, mlp_kernels k, int threads, int reps, const operands *o) {
    const double flop = 2.0 * s->M * s->N * s->K;
    const int inner = (int)(2e-3 / (flop / 100e9)) + 1; /* ~2 ms per timed run at 100 GFLOPS */
    double r[64];
    if (reps > 64) reps = 64;
    mlp_fpmode fm; /* as the library computes (the drivers' teams take the caller's mode) */
    mlp_fpmode_enter(&fm);
    gemm_call(s, k, threads, o);
    for (int rep = 0; rep < reps; rep++) {
        double t0 = threads == 1 ? cpu_now() : now();
        for (int i = 0; i < inner; i++) gemm_call(s, k, threads, o);
        r[rep] = flop * inner / ((threads == 1 ? cpu_now() : now()) - t0) * 1e-9;
    }
    mlp_fpmode_leave(&fm);
    return best_rate(r, reps);
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

/* Seconds per epoch, the best of `epochs` epochs after `warm` warm-up epochs, with the first layer dense
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
    return best_time(sec, epochs);
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

/* Images per second of mlp_evaluate on the test set (best of `reps`). */
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
    return best_rate(r, reps);
}

/* ------------------------------------------------------------------ 7. PyTorch, same runs */

/* The interpreter with torch (MLP_PYTHON, else Debian's /usr/bin/python3) and the script, or NULL when torch is
 * not installed. */
static const char *peer_python(void) {
    static char cmd[512];
    const char *py = getenv("MLP_PYTHON");
    if (!py) py = "/usr/bin/python3";
    snprintf(cmd, sizeof cmd, "%s -c 'import torch' >/dev/null 2>&1", py);
    return system(cmd) == 0 ? py : NULL;
}

/* PyTorch's seconds per epoch for the same run (bench/peers/torch_mlp.py): the best of epochs 2.. (epoch 1 is a
 * warm-up). Prints the script's first line (torch version, threads, BLAS) once. Returns 0 on failure.
 * OMP_WAIT_POLICY=PASSIVE: torch's OpenMP pool and OpenBLAS's own threads otherwise both spin-wait between
 * calls and take each other's cores; on 2 CPUs that made torch's 2-thread epoch 4-5x slower than its 1-thread
 * one (784-128-10: 2.0-2.5 s against 0.49 s; passive: 0.54 s). */
static double torch_epoch(const char *py, const char *data, const char *hidden, const char *act, const char *loss,
                          int threads, int epochs) {
    static int said;
    const char *dir = getenv("MLP_PEERS");
    char cmd[1024], line[512];
    snprintf(cmd, sizeof cmd,
             "OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=%d OPENBLAS_NUM_THREADS=%d %s %s/torch_mlp.py --data %s --hidden %s --act %s --loss %s "
             "--threads %d --epochs %d 2>&1",
             threads, threads, py, dir ? dir : "bench/peers", data, hidden, act, loss, threads, epochs + 1);
    FILE *p = popen(cmd, "r");
    if (!p) return 0;
    double sec[64];
    int n = 0, ep;
    double t, a;
    while (fgets(line, sizeof line, p)) {
        if (sscanf(line, "epoch %d seconds %lf test_acc %lf", &ep, &t, &a) == 3) {
            if (ep > 1 && n < 64) sec[n++] = t;
        } else if (!said && strncmp(line, "torch ", 6) == 0) {
            printf("  %s", line);
            said = 1;
        } else if (strncmp(line, "torch ", 6) != 0) {
            printf("  (torch_mlp.py: %s)\n", strtok(line, "\n"));
        }
    }
    pclose(p);
    return n ? best_time(sec, n) : 0;
}

/* The training options of issue 12 against plain SGD on the reference network (784-128-10 gelu + hinge, batch 100,
 * sparse first layer, kernel path k, `threads` threads): one trainer per option, their epochs interleaved (option
 * 1, 2, ..., then again) so that a busy machine slows them alike; the best of `reps` epochs each after a warm-up
 * epoch, and the ratio to SGD's. */
static void options_bench(const bench_data *d, mlp_kernels k, int threads, int reps) {
    enum { N_OPT = 6 };
    static const char *const names[N_OPT] = {"sgd (reference)", "sgd --nesterov", "adam", "adamw", "--dropout 0.2",
                                             "adam --dropout 0.2"};
    mlp_net net[N_OPT];
    mlp_trainer t[N_OPT];
    mlp_error err;
    double sec[N_OPT][32];
    if (reps > 32) reps = 32;
    for (int o = 0; o < N_OPT; o++) {
        mlp_arch arch;
        mlp_train_cfg cfg = mlp_train_cfg_default();
        if (o == 1) cfg.nesterov = 1;
        if (o == 2 || o == 5) cfg.optim = MLP_OPTIM_ADAM, cfg.lr = 1e-3f, cfg.wd = 0, cfg.momentum = 0;
        if (o == 3) cfg.optim = MLP_OPTIM_ADAMW, cfg.lr = 1e-3f, cfg.wd = 1e-2f, cfg.momentum = 0;
        if (o >= 4) cfg.dropout = 0.2f;
        if (mlp_arch_parse(&arch, "128", d->train.dim, 10, MLP_ACT_GELU, &err) ||
            mlp_net_create(&net[o], &arch, 1000, &err) || mlp_net_set_exec(&net[o], threads, k, &err)) {
            fprintf(stderr, "bench: %s\n", err.msg);
            exit(1);
        }
        mlp_rng rng;
        mlp_rng_seed(&rng, cfg.seed, 1);
        mlp_net_init(&net[o], cfg.init_std, &rng);
        if (mlp_trainer_init(&t[o], &net[o], &cfg, &d->train, &d->test, &err)) {
            fprintf(stderr, "bench: %s\n", err.msg);
            exit(1);
        }
    }
    mlp_epoch_metrics m;
    for (int e = 0; e <= reps; e++)
        for (int o = 0; o < N_OPT; o++) {
            if (mlp_trainer_epoch(&t[o], &m, &err)) {
                fprintf(stderr, "bench: %s\n", err.msg);
                exit(1);
            }
            if (e > 0) sec[o][e - 1] = m.seconds;
        }
    const double ref = best_time(sec[0], reps);
    for (int o = 0; o < N_OPT; o++) {
        const double s = best_time(sec[o], reps);
        printf("  %-20s %-8s %d thread%s %8.4f s/epoch  %6.1f%% of sgd\n", names[o], mlp_kernels_name(k), threads,
               threads > 1 ? "s" : " ", s, 100 * s / ref);
        mlp_trainer_free(&t[o]);
        mlp_net_free(&net[o]);
    }
    fflush(stdout);
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

/* --only: a comma-separated list of sections (machine is always printed) */
static int section(const char *only, const char *name) {
    if (!only) return 1;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", only);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ","))
        if (strcmp(tok, name) == 0) return 1;
    return 0;
}

/* An epoch figure kept for the PyTorch comparison. */
typedef struct run_fig {
    const char *hidden;
    int threads;
    double sec;
} run_fig;

int main(int argc, char **argv) {
    int quick = 0, epochs = 5;
    const char *paths = NULL, *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1, epochs = 2;
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc) epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-matrix")) only = only ? only : "peak,kernels,wide,epochs,eval,peers,fast,options";
        else if (!strcmp(argv[i], "--paths") && i + 1 < argc) paths = argv[++i];
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else {
            fprintf(stderr,
                    "usage: %s [--quick] [--epochs N] [--paths portable,avx2,avx512,blas]\n"
                    "       [--only peak,kernels,wide,epochs,eval,peers,fast,options,matrix] [--no-matrix]\n",
                    argv[0]);
            return 2;
        }
    }
    if (epochs < 1) epochs = 1;
    const double t_start = now();
    print_machine();
    printf("load average at the start: %.2f (1 min; this machine has %d logical CPUs: above ~0.5 the figures are\n"
           "disturbed by other work)\n\n",
           load1(),
#ifdef _OPENMP
           omp_get_num_procs()
#else
           1
#endif
    );
    const int best = (int)mlp_kernels_resolve(MLP_KERNELS_AUTO);

    /* 2. */
    double peak1 = 0, peak2 = 0;
#if BENCH_X86
    printf("FMA peak (12 independent FMA chains per thread, best of 15, GFLOPS):\n");
    for (int wide = 16; wide >= 8; wide /= 2) {
        const int ok = wide == 16 ? mlp_cpu_has_avx512f() : mlp_cpu_has_avx2_fma();
        if (!ok) continue;
        double g1 = fma_peak(wide, 1), g2 = fma_peak(wide, 2);
        printf("  %-8s 1 thread %7.1f   2 threads %7.1f\n", wide == 16 ? "avx512" : "avx2", g1, g2);
        if (g1 > peak1) peak1 = g1;
        if (g2 > peak2) peak2 = g2;
    }
    printf("  (the %% of peak figures below are against the best of these: %.1f on 1 core, %.1f on 2)\n\n", peak1,
           peak2);
#endif

    /* 3. */
    operands o;
    {
        const size_t big = (size_t)WIDE_MAX_W * WIDE_MAX_W, rows = (size_t)WIDE_MAX_B * WIDE_MAX_W;
        unsigned state = 12345;
        o.A = big_floats(big), o.B = big_floats(big), o.C = big_floats(big);
        o.F = big_floats(rows), o.D = big_floats(rows), o.bias = big_floats(WIDE_MAX_W);
        o.W = big_floats(big), o.V = big_floats(big);
        if (o.V) memset(o.V, 0, big * sizeof(float));
        if (!o.A || !o.B || !o.C || !o.F || !o.D || !o.bias || !o.W || !o.V) {
            fprintf(stderr, "bench: out of memory\n");
            return 1;
        }
        fill(o.A, big, &state);
        fill(o.B, big, &state);
        fill(o.D, rows, &state);
        fill(o.W, big, &state);
        fill(o.bias, WIDE_MAX_W, &state);
    }
    if (section(only, "kernels")) {
        const int reps = quick ? 3 : 7;
        printf("kernel GFLOPS at the training shapes of 784-128-10, best of %d (1 thread / 2 threads):\n%-26s", reps,
               "shape");
        for (int k = MLP_KERNELS_PORTABLE; k < MLP_KERNELS_COUNT; k++)
            if (mlp_kernels_supported((mlp_kernels)k)) printf(" %17s", mlp_kernels_name((mlp_kernels)k));
        printf("\n");
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
            printf("%-26s", shapes[si].name);
            for (int k = MLP_KERNELS_PORTABLE; k < MLP_KERNELS_COUNT; k++) {
                if (!mlp_kernels_supported((mlp_kernels)k)) continue;
                double g1 = gemm_gflops(&shapes[si], (mlp_kernels)k, 1, reps, &o);
                double g2 = gemm_gflops(&shapes[si], (mlp_kernels)k, 2, reps, &o);
                printf(" %8.1f /%7.1f", g1, g2);
            }
            printf("\n");
            fflush(stdout);
        }
        printf("\n");
    }
    if (section(only, "wide")) {
        const int reps = quick ? 3 : 5;
        printf("dense products of a wide hidden layer W x W at batch B, with the training step's fused epilogues\n"
               "(forward: bias + relu and f'; input gradient: times f'; weight gradient: the SGD rule), best of %d;\n"
               "GFLOPS and %% of the measured FMA peak of that many cores (target: 70%% on 1 thread, 60%% on 2)\n",
               reps);
        printf("  %-6s %-6s %-16s", "B", "W", "product");
        for (int k = MLP_KERNELS_AVX2; k < MLP_KERNELS_COUNT; k++)
            if (path_selected(paths, (mlp_kernels)k)) printf(" %27s", mlp_kernels_name((mlp_kernels)k));
        printf("\n");
        for (size_t wi = 0; wi < sizeof wide_shapes / sizeof wide_shapes[0]; wi++) {
            const int B = wide_shapes[wi].B, W = wide_shapes[wi].W;
            if (quick && W > 1024) continue;
            const shape ps[3] = {{"forward", 0, B, W, W, MLP_EPI_ACT},
                                 {"input gradient", 0, B, W, W, MLP_EPI_MUL},
                                 {"weight gradient", 1, W, W, B, MLP_EPI_SGD}};
            for (int pi = 0; pi < 3; pi++) {
                printf("  %-6d %-6d %-16s", B, W, ps[pi].name);
                for (int k = MLP_KERNELS_AVX2; k < MLP_KERNELS_COUNT; k++) {
                    if (!path_selected(paths, (mlp_kernels)k)) continue;
                    double g1 = gemm_gflops(&ps[pi], (mlp_kernels)k, 1, reps, &o);
                    double g2 = gemm_gflops(&ps[pi], (mlp_kernels)k, 2, reps, &o);
                    printf("   %6.1f %3.0f%% /%6.1f %3.0f%%", g1, peak1 > 0 ? 100 * g1 / peak1 : 0, g2,
                           peak2 > 0 ? 100 * g2 / peak2 : 0);
                }
                printf("\n");
                fflush(stdout);
            }
        }
        printf("\n");
    }
    free(o.A), free(o.B), free(o.C), free(o.F), free(o.D), free(o.bias), free(o.W), free(o.V);

    /* 4.-8. need MNIST */
    const char *dir = getenv("MLP_DATA");
    bench_data d;
    mlp_error err;
    if (!dir) dir = "data/mnist";
    if (mlp_dataset_load_dir(&d.train, &d.test, dir, mlp_scaling_default(), &err)) {
        printf("training figures skipped: %s (set MLP_DATA to the MNIST folder)\n", err.msg);
        return 0;
    }
    run_fig figs[8];
    int nfigs = 0;
    if (section(only, "epochs")) {
        static const char *archs[] = {"128", "128,32"};
        printf("seconds per epoch (600 steps of batch 100 + the 10000 test images), the best of %d epochs after 1\n"
               "warm-up. 784-128-10 and 784-128-32-10: the default configuration (gelu + hinge, summed gradients);\n"
               "first layer dense, or sparse around the background value (the default on MNIST). GFLOPS and the\n"
               "floor count the dense FLOP of an epoch; the floor is that FLOP at the measured FMA peak.\n",
               epochs);
        printf("  %-16s %-9s %-7s %7s %9s %9s %9s %9s %7s\n", "network", "path", "layer1", "threads", "s/epoch",
               "GFLOPS", "floor s", "of floor", "test");
        for (int a = 0; a < 3; a++) {
            const char *hidden = a < 2 ? archs[a] : "1024,1024";
            const mlp_act act = a < 2 ? MLP_ACT_GELU : MLP_ACT_RELU;
            const mlp_loss loss = a < 2 ? MLP_LOSS_HINGE : MLP_LOSS_CE;
            mlp_arch arch;
            mlp_arch_parse(&arch, hidden, d.train.dim, 10, act, &err);
            char name[64];
            mlp_arch_format(&arch, name, sizeof name);
            if (a == 2) {
                printf("  %s: relu + ce (otherwise the default configuration), the default sparse first layer\n", name);
            }
            const double flop = epoch_flop(&arch, d.train.n, 100, d.test.n);
            double t1 = 0, t2 = 0;
            for (int k = MLP_KERNELS_PORTABLE; k < MLP_KERNELS_COUNT; k++) {
                if (!path_selected(paths, (mlp_kernels)k)) continue;
                if (a == 2 && k != best) continue;
                for (int sparse = a == 2 ? 1 : 0; sparse <= 1; sparse++)
                    for (int th = 1; th <= 2; th++) {
                        double acc;
                        double sec = time_epochs(&d, hidden, act, loss, (mlp_kernels)k, th, sparse, 1,
                                                 a == 2 ? (quick ? 1 : 2) : epochs, &acc);
                        const double peak = th == 1 ? peak1 : peak2;
                        const double floor_s = peak > 0 ? flop / (peak * 1e9) : 0;
                        printf("  %-16s %-9s %-7s %7d %9.4f %9.1f %9.4f %8.0f%% %7.4f\n", name,
                               mlp_kernels_name((mlp_kernels)k), sparse ? "sparse" : "dense", th, sec,
                               flop / sec * 1e-9, floor_s, floor_s > 0 ? 100 * floor_s / sec : 0, acc);
                        fflush(stdout);
                        if (k == best && sparse) {
                            if (th == 1) t1 = sec;
                            else t2 = sec;
                            if (nfigs < 8) figs[nfigs++] = (run_fig){hidden, th, sec};
                        }
                    }
            }
            if (t1 > 0 && t2 > 0)
                printf("  %-16s two threads: %.2fx the one-thread speed (%s, sparse; target %s)\n", name, t1 / t2,
                       mlp_kernels_name((mlp_kernels)best), a == 2 ? ">= 1.8x" : ">= 1.6x");
        }
        printf("  (an epoch of 784-128-10 is %.2f GFLOP dense, of 784-128-32-10 %.2f GFLOP, of 784-1024-1024-10 %.1f)\n\n",
               epoch_flop(&(mlp_arch){2, {784, 128, 10}, MLP_ACT_GELU}, d.train.n, 100, d.test.n) * 1e-9,
               epoch_flop(&(mlp_arch){3, {784, 128, 32, 10}, MLP_ACT_GELU}, d.train.n, 100, d.test.n) * 1e-9,
               epoch_flop(&(mlp_arch){3, {784, 1024, 1024, 10}, MLP_ACT_RELU}, d.train.n, 100, d.test.n) * 1e-9);
    }

    if (section(only, "eval")) {
        printf("evaluation, 784-128-10 forward + loss over the %d test images (batches of 1000), images/s, best of %d\n"
               "(target: 2M on 2 threads):\n",
               d.test.n, quick ? 5 : 11);
        for (int k = MLP_KERNELS_PORTABLE; k < MLP_KERNELS_COUNT; k++) {
            if (!path_selected(paths, (mlp_kernels)k)) continue;
            for (int sparse = 0; sparse <= 1; sparse++)
                printf("  %-9s %-7s 1 thread %10.0f   2 threads %10.0f\n", mlp_kernels_name((mlp_kernels)k),
                       sparse ? "sparse" : "dense", eval_rate(&d, (mlp_kernels)k, 1, sparse, quick ? 5 : 11),
                       eval_rate(&d, (mlp_kernels)k, 2, sparse, quick ? 5 : 11));
        }
        printf("\n");
    }

    if (section(only, "peers")) {
        const char *py = peer_python();
        if (!py) {
            printf("PyTorch: not installed for /usr/bin/python3 (apt-get install python3-torch; MLP_PYTHON names another\n"
                   "interpreter): no side-by-side figures\n\n");
        } else {
            printf("PyTorch, the same runs in the same bench (bench/peers/torch_mlp.py: float32 nn.Linear + torch.optim.SGD,\n"
                   "batch 100, momentum 0.9, the same weight decay, learning rate, loss and data); s/epoch, the best of %d\n"
                   "epochs after 1 warm-up; mlp: the %s figures above (sparse first layer, the default). With 2\n"
                   "threads mlp is compared with torch at its best of 1 and 2 threads (both shown)\n",
                   quick ? 1 : 2, mlp_kernels_name((mlp_kernels)best));
            static const struct {
                const char *hidden, *act, *loss, *target;
                int threads;
            } peers[] = {{"128", "gelu", "hinge", ">= 6x", 2},
                         {"128", "gelu", "hinge", "", 1},
                         {"128,32", "gelu", "hinge", ">= 5x", 2},
                         {"1024,1024", "relu", "ce", ">= 2x", 2}};
            for (size_t i = 0; i < sizeof peers / sizeof peers[0]; i++) {
                double mine = 0;
                for (int f = 0; f < nfigs; f++)
                    if (!strcmp(figs[f].hidden, peers[i].hidden) && figs[f].threads == peers[i].threads) mine = figs[f].sec;
                if (mine <= 0) continue; /* not measured in this run (--only, --quick) */
                double theirs = torch_epoch(py, dir, peers[i].hidden, peers[i].act, peers[i].loss, peers[i].threads,
                                            quick ? 1 : 2);
                double one = 0, two = theirs; /* torch on one thread, when the row is a two-thread one */
                if (peers[i].threads > 1 && theirs > 0) {
                    one = torch_epoch(py, dir, peers[i].hidden, peers[i].act, peers[i].loss, 1, quick ? 1 : 2);
                    if (one > 0 && one < theirs) theirs = one;
                }
                if (theirs <= 0) {
                    printf("  784-%s-10 %s+%s: the PyTorch run failed\n", peers[i].hidden, peers[i].act, peers[i].loss);
                    continue;
                }
                char net[64];
                snprintf(net, sizeof net, "784-%s-10", peers[i].hidden);
                for (char *c = net; *c; c++)
                    if (*c == ',') *c = '-';
                char torch_one[64] = "";
                if (one > 0) snprintf(torch_one, sizeof torch_one, " (best of 2 thr %.4f, 1 thr %.4f)", two, one);
                printf("  %-18s %-10s %d thr   torch %8.4f s%s   mlp %8.4f s   mlp is %5.2fx faster%s%s%s\n", net,
                       peers[i].loss[0] == 'h' ? "gelu+hinge" : "relu+ce", peers[i].threads, theirs, torch_one, mine,
                       theirs / mine, peers[i].target[0] ? "  (target " : "", peers[i].target,
                       peers[i].target[0] ? ")" : "");
                fflush(stdout);
            }
            printf("\n");
        }
    }

    if (section(only, "fast")) {
        enum { FL_EPOCHS = 8 };
        printf("a fast-learning run (mlp train --act gelu --loss ce --grad-reduction mean --lr 0.1 --wd 1e-4 --threads 1),\n"
               "%d epochs, s/epoch: with subnormals flushed to zero (the library's mode) and with IEEE subnormals\n"
               "(for comparison); target: the slowest epoch within 15%% of the fastest\n",
               FL_EPOCHS);
        for (int k = MLP_KERNELS_PORTABLE; k < MLP_KERNELS_COUNT; k++) {
            if (k == MLP_KERNELS_BLAS) continue;
            if (k != best && (quick || !mlp_kernels_supported((mlp_kernels)k))) continue;
            if (k != best && k != MLP_KERNELS_PORTABLE && !path_selected(paths, (mlp_kernels)k)) continue;
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

    if (section(only, "options")) {
        printf("the training options (issue 12) on 784-128-10 gelu + hinge, sparse first layer, %s: the best of %d\n"
               "interleaved epochs (test set included), and relative to plain SGD (the issue's target: within 120%%)\n",
               mlp_kernels_name((mlp_kernels)best), quick ? 3 : 7);
        options_bench(&d, (mlp_kernels)best, 1, quick ? 3 : 7);
        options_bench(&d, (mlp_kernels)best, 2, quick ? 3 : 7);
        printf("\n");
    }

    if (section(only, "matrix") && !quick) {
        printf("every activation x loss, 784-128-10, %s, sparse first layer, 2 threads: s/epoch (one epoch after a\n"
               "warm-up), and relative to gelu+ce\n  %-8s",
               mlp_kernels_name((mlp_kernels)best), "");
        for (int l = 0; l < MLP_LOSS_COUNT; l++) printf(" %15s", mlp_loss_name((mlp_loss)l));
        printf("\n");
        double ref = time_epochs(&d, "128", MLP_ACT_GELU, MLP_LOSS_CE, (mlp_kernels)best, 2, 1, 1, 3, NULL);
        for (int a = 0; a < MLP_ACT_COUNT; a++) {
            printf("  %-8s", mlp_act_name((mlp_act)a));
            for (int l = 0; l < MLP_LOSS_COUNT; l++) {
                double sec = time_epochs(&d, "128", (mlp_act)a, (mlp_loss)l, (mlp_kernels)best, 2, 1, 1, 1, NULL);
                printf("  %7.4f %5.0f%%", sec, 100 * sec / ref);
                fflush(stdout);
            }
            printf("\n");
        }
        printf("\n");
    }
    printf("load average at the end: %.2f; the bench took %.0f s\n", load1(), now() - t_start);
    mlp_dataset_free(&d.train);
    mlp_dataset_free(&d.test);
    return 0;
}
