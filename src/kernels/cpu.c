/* cpu.c - CPU feature detection and the choice of kernel path: the one place that maps a path to its table
 * (mlp_kernel_table_get) and resolves AUTO to the best path this build and CPU support.
 *
 * A SIMD path may run only if the CPU has the instructions (cpuid) AND the operating system saves the
 * wider registers on context switches (XCR0, read with xgetbv once cpuid reports OSXSAVE). Checking
 * cpuid alone is not enough: a kernel that disabled AVX state would fault on the first ymm instruction.
 * The library reads no environment variables here; the CLI maps MLP_KERNELS to a request.
 * -DMLP_NO_SIMD compiles every x86 section out (MLP_KERNELS_X86 = 0: cpu.c, gemm_avx2.c, gemm_avx512.c): the
 * build of a non-x86 machine, for checking that the portable path stands alone. */
#include "kernels.h"

#include <string.h>

#if MLP_KERNELS_X86
#include <cpuid.h>

/* cpuid leaf 1, ECX */
#define CPUID1_ECX_FMA (1u << 12)
#define CPUID1_ECX_OSXSAVE (1u << 27)
#define CPUID1_ECX_AVX (1u << 28)
/* cpuid leaf 7 subleaf 0, EBX */
#define CPUID7_EBX_AVX2 (1u << 5)
#define CPUID7_EBX_AVX512F (1u << 16)
#define CPUID7_EBX_AVX512DQ (1u << 17)
#define CPUID7_EBX_AVX512VL (1u << 31)
/* XCR0: state components the OS saves. SSE (bit 1) + AVX upper halves (bit 2); AVX-512 adds the opmask
 * registers (bit 5), the upper halves of zmm0-15 (bit 6) and zmm16-31 (bit 7). */
#define XCR0_YMM 0x06u
#define XCR0_ZMM 0xE6u

/* XCR0 through the xgetbv instruction (ecx = 0). Written as asm so that no -mxsave flag is needed. */
static unsigned long long read_xcr0(void) {
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

/* Leaf-1 ECX and leaf-7 EBX, or 0 for leaves the CPU does not have. Also the OS-enabled XCR0 state. */
static void read_features(unsigned int *ecx1, unsigned int *ebx7, unsigned long long *xcr0) {
    unsigned int a, b, c, d;
    *ecx1 = *ebx7 = 0;
    *xcr0 = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    *ecx1 = c;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) *ebx7 = b;
    if (*ecx1 & CPUID1_ECX_OSXSAVE) *xcr0 = read_xcr0();
}

int mlp_cpu_has_avx2_fma(void) {
    unsigned int ecx1, ebx7;
    unsigned long long xcr0;
    read_features(&ecx1, &ebx7, &xcr0);
    unsigned int need1 = CPUID1_ECX_FMA | CPUID1_ECX_OSXSAVE | CPUID1_ECX_AVX;
    return (ecx1 & need1) == need1 && (ebx7 & CPUID7_EBX_AVX2) && (xcr0 & XCR0_YMM) == XCR0_YMM;
}

/* The AVX-512 kernels are compiled for avx512f+vl+dq+fma, so all four are required. */
int mlp_cpu_has_avx512f(void) {
    unsigned int ecx1, ebx7;
    unsigned long long xcr0;
    read_features(&ecx1, &ebx7, &xcr0);
    unsigned int need1 = CPUID1_ECX_FMA | CPUID1_ECX_OSXSAVE | CPUID1_ECX_AVX;
    unsigned int need7 = CPUID7_EBX_AVX512F | CPUID7_EBX_AVX512DQ | CPUID7_EBX_AVX512VL;
    return (ecx1 & need1) == need1 && (ebx7 & need7) == need7 && (xcr0 & XCR0_ZMM) == XCR0_ZMM;
}

#else

int mlp_cpu_has_avx2_fma(void) { return 0; }
int mlp_cpu_has_avx512f(void) { return 0; }

#endif

static const char *const kernel_names[MLP_KERNELS_COUNT] = {"auto", "portable", "avx2", "avx512", "blas"};

const char *mlp_kernels_name(mlp_kernels k) {
    if ((unsigned)k >= MLP_KERNELS_COUNT) return "unknown";
    return kernel_names[k];
}

int mlp_kernels_parse(const char *name, mlp_kernels *out) {
    if (!name) return -1;
    for (int k = 0; k < MLP_KERNELS_COUNT; k++) {
        if (strcmp(name, kernel_names[k]) == 0) {
            if (out) *out = (mlp_kernels)k;
            return 0;
        }
    }
    return -1;
}

/* The table of each path, or NULL where the path is not compiled in. BLAS (gemm_blas.c) takes every entry but
 * the dense products from the best other path of this CPU. */
const mlp_kernel_table *mlp_kernel_table_get(mlp_kernels k) {
    switch (k) {
    case MLP_KERNELS_PORTABLE: return &mlp_portable_table;
#if MLP_KERNELS_X86
    case MLP_KERNELS_AVX2: return &mlp_avx2_table;
    case MLP_KERNELS_AVX512: return &mlp_avx512_table;
#endif
    case MLP_KERNELS_BLAS: {
        const mlp_kernels rows = mlp_cpu_has_avx512f()    ? MLP_KERNELS_AVX512
                                 : mlp_cpu_has_avx2_fma() ? MLP_KERNELS_AVX2
                                                          : MLP_KERNELS_PORTABLE;
        return mlp_blas_table(mlp_kernels_of(rows));
    }
    default: return NULL;
    }
}

/* A path without a table (AUTO, or not compiled in) falls back to the portable kernels rather than crashing;
 * callers are expected to pass a resolved, supported path. */
const mlp_kernel_table *mlp_kernels_of(mlp_kernels k) {
    const mlp_kernel_table *t = mlp_kernel_table_get(k);
    return t ? t : &mlp_portable_table;
}

/* A path is usable when it is compiled in (its table exists) and the CPU + OS support it.
 * AUTO always is: it resolves to something usable. */
int mlp_kernels_supported(mlp_kernels k) {
    switch (k) {
    case MLP_KERNELS_AUTO: return 1;
    case MLP_KERNELS_PORTABLE: return 1;
    case MLP_KERNELS_AVX2: return mlp_kernel_table_get(k) != NULL && mlp_cpu_has_avx2_fma();
    case MLP_KERNELS_AVX512: return mlp_kernel_table_get(k) != NULL && mlp_cpu_has_avx512f();
    case MLP_KERNELS_BLAS: return mlp_kernel_table_get(k) != NULL;
    default: return 0;
    }
}

mlp_kernels mlp_kernels_resolve(mlp_kernels want) {
    if (want == MLP_KERNELS_AUTO) {
        if (mlp_kernels_supported(MLP_KERNELS_AVX512)) return MLP_KERNELS_AVX512;
        if (mlp_kernels_supported(MLP_KERNELS_AVX2)) return MLP_KERNELS_AVX2;
        return MLP_KERNELS_PORTABLE;
    }
    if ((unsigned)want < MLP_KERNELS_COUNT && mlp_kernels_supported(want)) return want;
    return MLP_KERNELS_PORTABLE;
}
