/* act_table.h - the activation functions: one row each, covering every kernel path.
 *
 * Row X(ENUM, name) is the activation MLP_ACT_<ENUM> of mlp.h, called "name" on the command line. Its code is
 * found by name, one function per path:
 *   portable path (src/kernels/act_portable.c):    float name_f(float u), float name_grad_f(float u)
 *   double references, the tests' oracle (src/core/act.c): double name_ref(double u), double name_ref_grad(double u)
 *   AVX2 and AVX-512 (src/kernels/vmath.h, once):   void vm_name(vm_f u, vm_f *f, vm_f *d)   (f and f' together)
 * Everything else (names, parsing, the scalar array loops, the derivative loop, the vector row loops, the
 * epilogues' dispatch) is generated from this list. Adding an activation: the enum value, a row here, and the
 * functions above. The formulas (l = MLP_SELU_LAMBDA, a = MLP_SELU_ALPHA, c = sqrt(2/pi)):
 *
 *   relu     f = max(0, u)                              f' = [u > 0]
 *   sigmoid  f = 1 / (1 + e^-u)                         f' = f (1 - f)
 *   tanh     f = tanh u                                 f' = 1 - tanh^2 u
 *   selu     f = l u (u > 0), l a (e^u - 1) (u <= 0)    f' = l (u > 0), l a e^u (u <= 0)
 *   swish    f = u s, s = sigmoid(u)                    f' = s + u s (1 - s)
 *   gelu     f = 0.5 u (1 + tanh z)                     f' = 0.5 (1 + tanh z) + 0.5 u (1 - tanh^2 z) c (1 + 0.134145 u^2)
 *                z = c (u + 0.044715 u^3)
 */
#ifndef MLP_ACT_TABLE_H
#define MLP_ACT_TABLE_H

/* GELU's constants and exponent 2z = 2c(u + 0.044715 u^3), shared by the float kernels and the double
 * references: in double, finite for any float u (|u|^3 < 4e115), so no clamp is needed there. */
#define MLP_GELU_C 0.7978845608028654 /* sqrt(2/pi) */
#define MLP_GELU_A 0.044715           /* z = c(u + 0.044715 u^3) */
#define MLP_GELU_A3 0.134145          /* 3 * 0.044715: dz/du = c(1 + 0.134145 u^2) */
static inline double mlp_gelu_2z(double u) { return 2.0 * MLP_GELU_C * (u + MLP_GELU_A * u * u * u); }

#define MLP_ACT_ROWS(X) \
    X(RELU, relu)       \
    X(SIGMOID, sigmoid) \
    X(TANH, tanh)       \
    X(SELU, selu)       \
    X(SWISH, swish)     \
    X(GELU, gelu)

#endif
