/* fpmode.c - subnormal floats flushed to zero while the library computes, and the caller's mode restored.
 *
 * A float below 2^-126 in magnitude (a subnormal) is rare in the arithmetic of a network, but it appears as
 * soon as a run learns well: softmax probabilities of confidently wrong classes, the gradients of well-learned
 * rows, momentum decaying geometrically towards 0, exp(x) for x < -87. Intel cores execute an operation with a
 * subnormal input or result through a microcode assist (on the order of 100 cycles instead of 4), so a
 * fast-learning run slows down as it learns (issue 10: 0.20 s -> 0.51 s per epoch over 8 epochs). The cure is
 * the CPU's own: while the library computes, subnormal results are flushed to zero and subnormal inputs read
 * as zero.
 *
 *   x86 (SSE/AVX/AVX-512): MXCSR bit 15 FTZ (a subnormal result becomes +-0) and bit 6 DAZ (a subnormal input
 *                          is read as +-0). They govern every SSE/AVX/AVX-512 floating-point instruction,
 *                          scalar or vector (not x87, which x86-64 code does not use for float and double).
 *   AArch64:               FPCR bit 24 FZ (both: subnormal inputs and results are flushed to zero).
 *   elsewhere:             nothing is changed (mlp_fpmode_enter is a no-op): results are IEEE results. The
 *                          same with -DMLP_NO_FTZ on any machine (make MLP_CFLAGS_EXTRA=-DMLP_NO_FTZ ...).
 *
 * What it changes in the numbers: any value that would have been subnormal is 0 instead (an absolute change
 * below 1.2e-38 per value), and the bits of a run that meets such a value differ from those of the same run
 * in IEEE mode. Results stay exactly repeatable and independent of the thread count: every thread that
 * computes (the caller and the OpenMP team of each parallel region) sets the same mode, and flushing is a
 * deterministic function of each operation's operands. The reference experiment (lr 1e-5, summed gradients)
 * never produces a subnormal, so its bits do not change (tests/test_fused.c checks both facts).
 *
 * A library must not change its caller's floating-point environment: every public function that computes
 * saves the calling thread's mode on entry and restores it before returning, and every thread of a parallel
 * region sets it too and leaves it as the caller had it (OpenMP keeps its worker threads between regions; the
 * caller's own OpenMP code may run on them later). */
#include "kernels.h"

#if defined(MLP_NO_FTZ)
/* -DMLP_NO_FTZ: the no-op version on any machine (IEEE subnormals; for comparisons and for testing it) */
#elif (defined(__x86_64__) || (defined(__i386__) && defined(__SSE__))) && (defined(__GNUC__) || defined(__clang__))
#define FP_X86 1
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
#define FP_ARM64 1
#endif

#if defined(FP_X86)
#define FLUSH_BITS ((1ull << 15) | (1ull << 6)) /* MXCSR.FTZ | MXCSR.DAZ */

static unsigned long long fp_read(void) {
    unsigned int csr;
    __asm__ volatile("stmxcsr %0" : "=m"(csr));
    return csr;
}

static void fp_write(unsigned long long v) {
    unsigned int csr = (unsigned int)v;
    __asm__ volatile("ldmxcsr %0" : : "m"(csr) : "memory");
}
#elif defined(FP_ARM64)
#define FLUSH_BITS (1ull << 24) /* FPCR.FZ */

static unsigned long long fp_read(void) {
    unsigned long long v;
    __asm__ volatile("mrs %0, fpcr" : "=r"(v));
    return v;
}

static void fp_write(unsigned long long v) { __asm__ volatile("msr fpcr, %0" : : "r"(v) : "memory"); }
#endif

int mlp_fpmode_ieee = 0;

/* This thread's nesting of library brackets, and at depth > 0 the mode it had before the outermost one. */
static _Thread_local int fp_depth;
static _Thread_local unsigned long long fp_outer;

static unsigned long long fp_now(void) {
#if defined(FP_X86) || defined(FP_ARM64)
    return fp_read();
#else
    return 0;
#endif
}

/* This thread's flush bits := those of `bits` (the other bits, e.g. x86's sticky exception flags, are kept). */
static void fp_set_flush_as(unsigned long long bits) {
#if defined(FP_X86) || defined(FP_ARM64)
    const unsigned long long now = fp_read(), want = (now & ~(unsigned long long)FLUSH_BITS) | (bits & FLUSH_BITS);
    if (now != want) fp_write(want);
#else
    (void)bits;
#endif
}

void mlp_fpmode_enter(mlp_fpmode *saved) {
    saved->bits = fp_now();
    if (fp_depth++ == 0) fp_outer = saved->bits;
    saved->outer = fp_outer;
#if defined(FP_X86) || defined(FP_ARM64)
    if (!mlp_fpmode_ieee) fp_set_flush_as(FLUSH_BITS);
#endif
}

void mlp_fpmode_leave(const mlp_fpmode *saved) {
    fp_depth--;
    fp_set_flush_as(saved->bits);
}

int mlp_fpmode_current(mlp_fpmode *m) {
    if (fp_depth == 0) return 0;
    m->bits = fp_now();
    m->outer = fp_outer;
    return 1;
}

/* A thread of a team other than the caller's own leaves in the mode the caller had before entering the
 * library: the mode OpenMP would have given the thread without the library. (Pool threads are created by
 * cloning the thread that starts a region, which flushes then: restoring each thread's own entry mode would
 * leave such a new thread flushing for the caller's later regions.) */
void mlp_fpmode_leave_team(const mlp_fpmode *mine, const mlp_fpmode *caller, int me) {
    if (me == 0) {
        mlp_fpmode_leave(mine);
        return;
    }
    fp_depth--;
    fp_set_flush_as(caller->outer);
}

int mlp_fpmode_flushes(void) {
#if defined(FP_X86) || defined(FP_ARM64)
    return (fp_read() & FLUSH_BITS) == FLUSH_BITS;
#else
    return 0;
#endif
}
