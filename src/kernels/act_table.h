/* act_table.h - the activation functions: one row each, covering every kernel path.
 *
 * Row X(ENUM, name) is the activation MLP_ACT_<ENUM> of mlp.h, called "name" on the command line. Its code is
 * found by name, one function per path:
 *   portable path and mlp_act_* (src/core/act.c):   float name_f(float u), float name_grad_f(float u)
 *   double references, the tests' oracle (act.c):   double name_ref(double u), double name_ref_grad(double u)
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

#define MLP_ACT_ROWS(X) \
    X(RELU, relu)       \
    X(SIGMOID, sigmoid) \
    X(TANH, tanh)       \
    X(SELU, selu)       \
    X(SWISH, swish)     \
    X(GELU, gelu)

#endif
