/* gemm_avx2.c - the AVX2 + FMA kernel path: gemm_simd.h at 8 float lanes (ymm), with the AVX2 primitives
 * (vmaskmov for the last vector of a row, which is slow enough on some CPUs that full tiles avoid it).
 * Compiled with function-level target attributes, so no -mavx2 flag is needed; only called when cpu.c found
 * AVX2 + FMA with the YMM state enabled by the OS. */
#include "kernels.h"

#include <stddef.h>

#if MLP_KERNELS_X86

#include <immintrin.h>

#define VM_W 8
#define VK_TARGET "avx2,fma"
#define VMATH_FN static inline __attribute__((always_inline, target(VK_TARGET)))
#define VK_FN __attribute__((target(VK_TARGET)))
#define VK_MASK_CHEAP 0
#define VK_TABLE mlp_avx2_table
#include "vmath.h"

typedef __m256i vk_mask;
/* lanes 0..n-1: sign bit set */
VMATH_FN vk_mask vk_lanes(int n) { return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); }
VMATH_FN vm_f vk_set1(float x) { return (vm_f)_mm256_set1_ps(x); }
VMATH_FN vm_f vk_fma(vm_f a, vm_f b, vm_f c) { return (vm_f)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c); }
VMATH_FN vm_f vk_load_m(const float *p, vk_mask m) { return (vm_f)_mm256_maskload_ps(p, m); }
VMATH_FN void vk_store_m(float *p, vk_mask m, vm_f x) { _mm256_maskstore_ps(p, m, (__m256)x); }
VMATH_FN unsigned vk_neq(const float *p, int n, vm_f c) {
    if (n == 8) return (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(p), (__m256)c, _CMP_NEQ_UQ));
    unsigned m = 0;
    for (int i = 0; i < n; i++) m |= (unsigned)(p[i] != c[0]) << i;
    return m;
}

#include "gemm_simd.h"

#endif
