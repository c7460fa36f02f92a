/* gemm_avx512.c - the AVX-512 kernel path: gemm_simd.h at 16 float lanes (zmm), with the AVX-512 primitives
 * (opmask loads and stores, which cost no more than plain ones). Compiled with function-level target
 * attributes, so no -mavx512f flag is needed; only called when cpu.c found AVX-512F/VL/DQ + FMA with the ZMM
 * state enabled by the OS. */
#include "kernels.h"

#include <stddef.h>

#if MLP_KERNELS_X86

#include <immintrin.h>

#define VM_W 16
#define VK_TARGET "avx512f,avx512vl,avx512dq,fma"
#define VMATH_FN static inline __attribute__((always_inline, target(VK_TARGET)))
#define VK_FN __attribute__((target(VK_TARGET)))
#define VK_MASK_CHEAP 1
#define VK_TABLE mlp_avx512_table
#include "vmath.h"

typedef __mmask16 vk_mask;
VMATH_FN vk_mask vk_lanes(int n) { return (vk_mask)((1u << n) - 1u); }
VMATH_FN vm_f vk_set1(float x) { return (vm_f)_mm512_set1_ps(x); }
VMATH_FN vm_f vk_fma(vm_f a, vm_f b, vm_f c) { return (vm_f)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c); }
VMATH_FN vm_f vk_load_m(const float *p, vk_mask m) { return (vm_f)_mm512_maskz_loadu_ps(m, p); }
VMATH_FN void vk_store_m(float *p, vk_mask m, vm_f x) { _mm512_mask_storeu_ps(p, m, (__m512)x); }
VMATH_FN unsigned vk_neq(const float *p, int n, vm_f c) {
    const vk_mask in = vk_lanes(n);
    return _mm512_mask_cmp_ps_mask(in, _mm512_maskz_loadu_ps(in, p), (__m512)c, _CMP_NEQ_UQ);
}

#include "gemm_simd.h"

#endif
