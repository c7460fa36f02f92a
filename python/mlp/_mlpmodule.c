/* _mlpmodule.c - mlp._mlp, the CPython extension behind the `mlp` package: a thin layer over libmlp's C API.
 *
 * Two types:
 *   Net      an mlp_net. Its parameter block (fc1.weight [w1 x w0], fc1.bias, fc2.weight, ...) is exported
 *            through the buffer protocol, so numpy views it without a copy (the estimator's coefs_ and
 *            intercepts_ are transposed views of it). forward(), evaluate() run with the GIL released.
 *   Trainer  an mlp_trainer over an mlp_dataset whose x points into the caller's float32 array (held through
 *            a Py_buffer for the trainer's life: no copy). epoch() runs one mlp_trainer_epoch with the GIL
 *            released; Ctrl-C raises the trainer's stop_flag (see sigint below) and becomes KeyboardInterrupt.
 * Errors: the library's one-line message, as ValueError (MLP_ERR_ARG, DIVERGED), OSError (IO), ValueError
 * (FORMAT: a malformed file is bad data), MemoryError (NOMEM).
 *
 * Nothing of the training path is computed here: initialisation draws the same normal numbers as
 * mlp_net_init (one std per layer), everything else is a library call. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "mlp.h"

#include <pythread.h>
#include <structmember.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ errors */

static PyObject *raise_mlp(mlp_status st, const mlp_error *err) {
    const char *msg = err && err->msg[0] ? err->msg : mlp_status_name(st);
    switch (st) {
    case MLP_ERR_IO: PyErr_SetString(PyExc_OSError, msg); break;
    case MLP_ERR_NOMEM: PyErr_SetString(PyExc_MemoryError, msg); break;
    case MLP_ERR_INTERRUPTED: PyErr_SetString(PyExc_KeyboardInterrupt, msg); break;
    default: PyErr_SetString(PyExc_ValueError, msg); break;
    }
    return NULL;
}

/* A C-contiguous buffer of the given struct format ("f" float32, "i" int32) and dimensions, or an error. */
static int get_buffer(PyObject *obj, Py_buffer *view, const char *fmt, int ndim, const char *what) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0) return -1;
    const char *f = view->format ? view->format : "B";
    if (f[0] == '<' || f[0] == '=' || f[0] == '@') f++;
    if (strcmp(f, fmt) != 0 || view->ndim != ndim ||
        view->itemsize != (fmt[0] == 'f' ? (Py_ssize_t)sizeof(float) : (Py_ssize_t)sizeof(int32_t))) {
        PyErr_Format(PyExc_ValueError, "%s: expected a C-contiguous %d-D %s array, got format '%s' with %d dimensions",
                     what, ndim, fmt[0] == 'f' ? "float32" : "int32", view->format ? view->format : "B", view->ndim);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ Ctrl-C
 *
 * While an epoch runs without the GIL, Python's own SIGINT handler only records the signal; nothing would
 * stop the C loop. So for the epoch (when called from the main thread) SIGINT goes to on_sigint, which
 * raises the flag the trainer polls after every step (mlp_trainer.stop_flag). The previous handler is put
 * back when the epoch returns. One flag for the process: only the main thread receives Python's signals. */
static volatile int sigint_flag;

static void on_sigint(int sig) {
    (void)sig;
    sigint_flag = 1;
}

/* ------------------------------------------------------------------ Net */

typedef struct {
    PyObject_HEAD
    mlp_net net;
    int created;
    Py_ssize_t shape; /* n_params, for the buffer views */
    PyThread_type_lock lock; /* one library call at a time on this network (the GIL is released during them) */
} NetObject;

/* Run `stmt` on self's network without the GIL, holding the network's lock. */
#define WITH_NET_UNLOCKED(self, stmt)                                                                  \
    do {                                                                                               \
        Py_BEGIN_ALLOW_THREADS PyThread_acquire_lock((self)->lock, WAIT_LOCK);                         \
        stmt;                                                                                          \
        PyThread_release_lock((self)->lock);                                                           \
        Py_END_ALLOW_THREADS                                                                           \
    } while (0)

static PyTypeObject NetType;

static int parse_arch(PyObject *widths, const char *act, mlp_arch *arch) {
    PyObject *seq = PySequence_Fast(widths, "widths must be a sequence of ints");
    if (!seq) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n < 2 || n > MLP_MAX_LAYERS + 1) {
        Py_DECREF(seq);
        PyErr_Format(PyExc_ValueError, "a network has 2 to %d widths (inputs, hidden layers, outputs), got %zd",
                     MLP_MAX_LAYERS + 1, n);
        return -1;
    }
    memset(arch, 0, sizeof *arch);
    arch->n_layers = (int)n - 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        long w = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, i));
        if (w == -1 && PyErr_Occurred()) {
            Py_DECREF(seq);
            return -1;
        }
        if (w < 1 || w > (1 << 24)) {
            Py_DECREF(seq);
            PyErr_Format(PyExc_ValueError, "layer width %ld: must be 1..%d", w, 1 << 24);
            return -1;
        }
        arch->width[i] = (int)w;
    }
    Py_DECREF(seq);
    if (mlp_act_parse(act, &arch->act) != 0) {
        PyErr_Format(PyExc_ValueError, "unknown activation '%s' (relu, sigmoid, tanh, selu, swish, gelu)", act);
        return -1;
    }
    return 0;
}

static NetObject *net_new_empty(void) {
    NetObject *self = PyObject_New(NetObject, &NetType);
    if (!self) return NULL;
    memset(&self->net, 0, sizeof self->net);
    self->created = 0;
    self->shape = 0;
    self->lock = PyThread_allocate_lock();
    if (!self->lock) {
        Py_DECREF(self);
        return (NetObject *)PyErr_NoMemory();
    }
    return self;
}

/* Net(widths, activation, max_batch=256) */
static PyObject *Net_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"widths", "activation", "max_batch", NULL};
    PyObject *widths;
    const char *act;
    int max_batch = 256;
    (void)type;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "Os|i", kwlist, &widths, &act, &max_batch)) return NULL;
    mlp_arch arch;
    if (parse_arch(widths, act, &arch)) return NULL;
    if (max_batch < 1) return PyErr_Format(PyExc_ValueError, "max_batch %d: must be >= 1", max_batch);
    NetObject *self = net_new_empty();
    if (!self) return NULL;
    mlp_error err;
    mlp_status st = mlp_net_create(&self->net, &arch, max_batch, &err);
    if (st) {
        Py_DECREF(self);
        return raise_mlp(st, &err);
    }
    self->created = 1;
    return (PyObject *)self;
}

static void Net_dealloc(NetObject *self) {
    if (self->created) mlp_net_free(&self->net);
    if (self->lock) PyThread_free_lock(self->lock);
    PyObject_Free(self);
}

static int Net_getbuffer(NetObject *self, Py_buffer *view, int flags) {
    if (!self->created) {
        PyErr_SetString(PyExc_BufferError, "network not created");
        view->obj = NULL;
        return -1;
    }
    if (PyBuffer_FillInfo(view, (PyObject *)self, self->net.params, (Py_ssize_t)(self->net.n_params * sizeof(float)),
                          0, flags) != 0)
        return -1;
    /* one dimension of n_params float32 */
    self->shape = (Py_ssize_t)self->net.n_params;
    view->itemsize = sizeof(float);
    view->format = (flags & PyBUF_FORMAT) ? "f" : NULL;
    view->ndim = 1;
    view->shape = (flags & PyBUF_ND) ? &self->shape : NULL;
    view->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? &view->itemsize : NULL;
    return 0;
}

static PyBufferProcs Net_as_buffer = {(getbufferproc)Net_getbuffer, NULL};

/* init(seed, stds): layer l's weights W = N(0, 1) * stds[l] drawn in order from mlp_rng seeded (seed, 1),
 * biases and optimizer state 0 -- exactly mlp_net_init (and `mlp train`) when every std is the same. */
static PyObject *Net_init(NetObject *self, PyObject *args) {
    unsigned long long seed;
    PyObject *stds;
    if (!PyArg_ParseTuple(args, "KO", &seed, &stds)) return NULL;
    mlp_net *net = &self->net;
    const int L = net->arch.n_layers;
    float std[MLP_MAX_LAYERS];
    PyObject *seq = PySequence_Fast(stds, "stds must be a sequence of floats");
    if (!seq) return NULL;
    if (PySequence_Fast_GET_SIZE(seq) != L) {
        Py_DECREF(seq);
        return PyErr_Format(PyExc_ValueError, "init: %d standard deviations needed (one per layer)", L);
    }
    for (int l = 0; l < L; l++) {
        double v = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(seq, l));
        if (v == -1.0 && PyErr_Occurred()) {
            Py_DECREF(seq);
            return NULL;
        }
        if (!(v >= 0 && v <= 100)) {
            Py_DECREF(seq);
            return PyErr_Format(PyExc_ValueError, "init_std %g: must be in [0, 100]", v);
        }
        std[l] = (float)v;
    }
    Py_DECREF(seq);
    WITH_NET_UNLOCKED(self, {
        mlp_rng rng;
        mlp_rng_seed(&rng, (uint64_t)seed, 1);
        for (int l = 0; l < L; l++) {
            size_t nw = (size_t)net->arch.width[l] * (size_t)net->arch.width[l + 1];
            float *W = net->params + net->w_off[l];
            for (size_t i = 0; i < nw; i++) W[i] = (float)(mlp_rng_normal(&rng) * std[l]);
            memset(net->params + net->b_off[l], 0, sizeof(float) * (size_t)net->arch.width[l + 1]);
        }
        memset(net->momentum, 0, sizeof(float) * net->n_params);
        memset(net->moment2, 0, sizeof(float) * net->n_params);
        mlp_net_params_changed(net);
    });
    Py_RETURN_NONE;
}

/* The optimizer state (net->momentum, then net->moment2) as bytes, and back: for pickling a model that can
 * continue training exactly. */
static PyObject *Net_get_state(NetObject *self, PyObject *noargs) {
    (void)noargs;
    const size_t n = self->net.n_params * sizeof(float);
    PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(2 * n));
    if (!b) return NULL;
    memcpy(PyBytes_AS_STRING(b), self->net.momentum, n);
    memcpy(PyBytes_AS_STRING(b) + n, self->net.moment2, n);
    return b;
}

static PyObject *Net_set_state(NetObject *self, PyObject *args) {
    Py_buffer b;
    if (!PyArg_ParseTuple(args, "y*", &b)) return NULL;
    const size_t n = self->net.n_params * sizeof(float);
    if (b.len != (Py_ssize_t)(2 * n)) {
        PyBuffer_Release(&b);
        return PyErr_Format(PyExc_ValueError, "optimizer state of %zd bytes, expected %zu", b.len, 2 * n);
    }
    WITH_NET_UNLOCKED(self, {
        memcpy(self->net.momentum, b.buf, n);
        memcpy(self->net.moment2, (const char *)b.buf + n, n);
    });
    PyBuffer_Release(&b);
    Py_RETURN_NONE;
}

static PyObject *Net_set_threads(NetObject *self, PyObject *args) {
    int threads;
    if (!PyArg_ParseTuple(args, "i", &threads)) return NULL;
    mlp_error err;
    mlp_status st;
    WITH_NET_UNLOCKED(self, st = mlp_net_set_exec(&self->net, threads, MLP_KERNELS_AUTO, &err));
    if (st) return raise_mlp(st, &err);
    Py_RETURN_NONE;
}

/* forward(x, out): x float32 [n x w0] -> out float32 [n x K], the logits, in chunks of max_batch rows. */
static PyObject *Net_forward(NetObject *self, PyObject *args) {
    PyObject *xo, *oo;
    if (!PyArg_ParseTuple(args, "OO", &xo, &oo)) return NULL;
    Py_buffer x, out;
    if (get_buffer(xo, &x, "f", 2, "forward input")) return NULL;
    if (PyObject_GetBuffer(oo, &out, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) != 0) {
        PyBuffer_Release(&x);
        return NULL;
    }
    mlp_net *net = &self->net;
    const int D = net->arch.width[0], K = net->arch.width[net->arch.n_layers];
    const Py_ssize_t n = x.shape[0];
    if (x.shape[1] != D || out.len != (Py_ssize_t)(n * K * sizeof(float))) {
        PyBuffer_Release(&x);
        PyBuffer_Release(&out);
        return PyErr_Format(PyExc_ValueError, "forward: input [%zd x %zd] for a network of %d inputs and %d outputs",
                            n, x.shape[1], D, K);
    }
    const float *xp = x.buf;
    float *op = out.buf;
    WITH_NET_UNLOCKED(self, {
        mlp_net_params_changed(net); /* the params may have been written through a numpy view */
        for (Py_ssize_t r = 0; r < n; r += net->max_batch) {
            const int nb = (int)(n - r < net->max_batch ? n - r : net->max_batch);
            const float *logits = mlp_net_forward(net, xp + (size_t)r * D, nb);
            memcpy(op + (size_t)r * K, logits, sizeof(float) * (size_t)nb * K);
        }
    });
    PyBuffer_Release(&x);
    PyBuffer_Release(&out);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ datasets over numpy arrays */

/* The label type of mlp_dataset (uint8 or int32 depending on the library version). */
typedef __typeof__(((mlp_dataset *)0)->y[0]) label_t;

typedef struct {
    mlp_dataset ds;
    Py_buffer x, y;
    int have_x, have_y;
    label_t *own_y; /* labels converted to the library's type, when it is not int32 */
} dataset_view;

static void dataset_view_release(dataset_view *d) {
    if (d->have_x) PyBuffer_Release(&d->x);
    if (d->have_y) PyBuffer_Release(&d->y);
    free(d->own_y);
    memset(d, 0, sizeof *d);
}

/* x float32 [n x dim] C-contiguous (used in place), y int32 [n] class indices 0..K-1. */
static int dataset_view_make(dataset_view *d, PyObject *xo, PyObject *yo, int K) {
    memset(d, 0, sizeof *d);
    if (get_buffer(xo, &d->x, "f", 2, "X")) return -1;
    d->have_x = 1;
    if (get_buffer(yo, &d->y, "i", 1, "y")) {
        dataset_view_release(d);
        return -1;
    }
    d->have_y = 1;
    if (d->x.shape[0] != d->y.shape[0] || d->x.shape[0] > INT32_MAX || d->x.shape[1] > INT32_MAX) {
        PyErr_Format(PyExc_ValueError, "X has %zd rows but y has %zd labels", d->x.shape[0], d->y.shape[0]);
        dataset_view_release(d);
        return -1;
    }
    const int32_t *y = d->y.buf;
    const Py_ssize_t n = d->x.shape[0];
    for (Py_ssize_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= K) {
            PyErr_Format(PyExc_ValueError, "label %d at row %zd: must be a class index 0..%d", (int)y[i], i, K - 1);
            dataset_view_release(d);
            return -1;
        }
    d->ds.n = (int)n;
    d->ds.rows = 1;
    d->ds.cols = (int)d->x.shape[1];
    d->ds.dim = (int)d->x.shape[1];
    d->ds.x = d->x.buf; /* the library reads it only */
    if (sizeof(label_t) == sizeof(int32_t)) {
        d->ds.y = (label_t *)(void *)d->y.buf;
    } else {
        d->own_y = malloc(sizeof(label_t) * (n > 0 ? (size_t)n : 1));
        if (!d->own_y) {
            dataset_view_release(d);
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t i = 0; i < n; i++) d->own_y[i] = (label_t)y[i];
        d->ds.y = d->own_y;
    }
    return 0;
}

/* evaluate(x, y, loss_cfg) -> (mean loss, accuracy) through mlp_evaluate. */
static int parse_loss(PyObject *cfg, mlp_loss_cfg *loss, int K, float **alpha);

static PyObject *Net_evaluate(NetObject *self, PyObject *args) {
    PyObject *xo, *yo, *lo;
    if (!PyArg_ParseTuple(args, "OOO", &xo, &yo, &lo)) return NULL;
    mlp_net *net = &self->net;
    const int K = net->arch.width[net->arch.n_layers];
    mlp_loss_cfg loss;
    float *alpha = NULL;
    if (parse_loss(lo, &loss, K, &alpha)) return NULL;
    dataset_view d;
    if (dataset_view_make(&d, xo, yo, K)) {
        free(alpha);
        return NULL;
    }
    double mean_loss = 0, acc = 0;
    mlp_error err;
    mlp_status st;
    WITH_NET_UNLOCKED(self, {
        mlp_net_params_changed(net);
        st = mlp_evaluate(net, &loss, &d.ds, &mean_loss, &acc, NULL, &err);
    });
    dataset_view_release(&d);
    free(alpha);
    if (st) return raise_mlp(st, &err);
    return Py_BuildValue("dd", mean_loss, acc);
}

/* save(path, loss_cfg, input_offset, input_scale, dataset) */
static PyObject *Net_save(NetObject *self, PyObject *args) {
    PyObject *path_o, *lo;
    float offset, scale;
    const char *dataset;
    if (!PyArg_ParseTuple(args, "O&Offs", PyUnicode_FSConverter, &path_o, &lo, &offset, &scale, &dataset)) return NULL;
    mlp_model_meta meta;
    memset(&meta, 0, sizeof meta);
    const int K = self->net.arch.width[self->net.arch.n_layers];
    float *alpha = NULL;
    if (parse_loss(lo, &meta.loss, K, &alpha)) {
        Py_DECREF(path_o);
        return NULL;
    }
    meta.arch = self->net.arch;
    meta.scaling.offset = offset;
    meta.scaling.scale = scale;
    snprintf(meta.dataset, sizeof meta.dataset, "%s", dataset);
    snprintf(meta.version, sizeof meta.version, "%s", MLP_VERSION);
    mlp_error err;
    mlp_status st;
    const char *path = PyBytes_AS_STRING(path_o);
    WITH_NET_UNLOCKED(self, st = mlp_model_save(path, &self->net, &meta, &err));
    Py_DECREF(path_o);
    free(alpha);
    if (st) return raise_mlp(st, &err);
    Py_RETURN_NONE;
}

static PyObject *loss_to_dict(const mlp_loss_cfg *l, int K) {
    PyObject *alpha = PyTuple_New(K);
    if (!alpha) return NULL;
    for (int k = 0; k < K; k++) PyTuple_SET_ITEM(alpha, k, PyFloat_FromDouble(mlp_loss_focal_alpha(l, k)));
    return Py_BuildValue("{s:s,s:d,s:d,s:N}", "kind", mlp_loss_name(l->kind), "hinge_margin", (double)l->hinge_margin,
                         "focal_gamma", (double)l->focal_gamma, "focal_alpha", alpha);
}

/* load(path, max_batch) -> (Net, metadata dict) */
static PyObject *mod_load(PyObject *mod, PyObject *args) {
    PyObject *path_o;
    int max_batch = 256;
    (void)mod;
    if (!PyArg_ParseTuple(args, "O&|i", PyUnicode_FSConverter, &path_o, &max_batch)) return NULL;
    NetObject *self = net_new_empty();
    if (!self) {
        Py_DECREF(path_o);
        return NULL;
    }
    mlp_model_meta meta;
    mlp_error err;
    mlp_status st;
    const char *path = PyBytes_AS_STRING(path_o);
    Py_BEGIN_ALLOW_THREADS
    st = mlp_model_load(path, &self->net, max_batch, &meta, &err);
    Py_END_ALLOW_THREADS
    Py_DECREF(path_o);
    if (st) {
        Py_DECREF(self);
        return raise_mlp(st, &err);
    }
    self->created = 1;
    const mlp_arch *a = &self->net.arch;
    const int K = a->width[a->n_layers], D = a->width[0];
    PyObject *loss = loss_to_dict(&meta.loss, K);
    /* what the model knows of its data: class names, per-feature scaling (None when absent) */
    PyObject *names = meta.class_names ? PyList_New(K) : (Py_INCREF(Py_None), Py_None);
    PyObject *off = meta.feature_offset ? PyTuple_New(D) : (Py_INCREF(Py_None), Py_None);
    PyObject *sc = meta.feature_scale ? PyTuple_New(D) : (Py_INCREF(Py_None), Py_None);
    int ok = loss && names && off && sc;
    for (int k = 0; ok && meta.class_names && k < K; k++) {
        PyObject *s = PyUnicode_FromString(meta.class_names[k]);
        ok = s != NULL;
        if (ok) PyList_SET_ITEM(names, k, s);
    }
    for (int j = 0; ok && meta.feature_offset && j < D; j++) {
        PyTuple_SET_ITEM(off, j, PyFloat_FromDouble(meta.feature_offset[j]));
        PyTuple_SET_ITEM(sc, j, PyFloat_FromDouble(meta.feature_scale[j]));
    }
    const mlp_model_meta kept = meta; /* the scalars, for the dict below */
    mlp_model_meta_free(&meta);
    if (!ok) {
        Py_XDECREF(loss);
        Py_XDECREF(names);
        Py_XDECREF(off);
        Py_XDECREF(sc);
        Py_DECREF(self);
        return NULL;
    }
    return Py_BuildValue("N{s:N,s:d,s:d,s:s,s:s,s:N,s:N,s:N}", self, "loss", loss, "input_offset",
                         (double)kept.scaling.offset, "input_scale", (double)kept.scaling.scale, "dataset", kept.dataset,
                         "version", kept.version, "class_names", names, "feature_offset", off, "feature_scale", sc);
}

static PyObject *Net_get_widths(NetObject *self, void *closure) {
    (void)closure;
    const mlp_arch *a = &self->net.arch;
    PyObject *t = PyTuple_New(a->n_layers + 1);
    if (!t) return NULL;
    for (int i = 0; i <= a->n_layers; i++) PyTuple_SET_ITEM(t, i, PyLong_FromLong(a->width[i]));
    return t;
}

static PyObject *Net_get_activation(NetObject *self, void *closure) {
    (void)closure;
    return PyUnicode_FromString(mlp_act_name(self->net.arch.act));
}

/* [(weight offset, bias offset)] per layer, in floats */
static PyObject *Net_get_offsets(NetObject *self, void *closure) {
    (void)closure;
    const mlp_arch *a = &self->net.arch;
    PyObject *t = PyTuple_New(a->n_layers);
    if (!t) return NULL;
    for (int l = 0; l < a->n_layers; l++)
        PyTuple_SET_ITEM(t, l, Py_BuildValue("nn", (Py_ssize_t)self->net.w_off[l], (Py_ssize_t)self->net.b_off[l]));
    return t;
}

static PyObject *Net_get_kernels(NetObject *self, void *closure) {
    (void)closure;
    return PyUnicode_FromString(mlp_kernels_name(self->net.kernels));
}

static PyMethodDef Net_methods[] = {
    {"init", (PyCFunction)Net_init, METH_VARARGS, "init(seed, stds): normal weights with one std per layer, zero biases"},
    {"forward", (PyCFunction)Net_forward, METH_VARARGS, "forward(x, out): the logits of x into out"},
    {"evaluate", (PyCFunction)Net_evaluate, METH_VARARGS, "evaluate(x, y, loss) -> (mean loss, accuracy)"},
    {"save", (PyCFunction)Net_save, METH_VARARGS, "save(path, loss, input_offset, input_scale, dataset)"},
    {"set_threads", (PyCFunction)Net_set_threads, METH_VARARGS, "set_threads(n)"},
    {"get_state", (PyCFunction)Net_get_state, METH_NOARGS, "the optimizer state (momentum) as bytes"},
    {"set_state", (PyCFunction)Net_set_state, METH_VARARGS, "set_state(bytes)"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Net_getset[] = {
    {"widths", (getter)Net_get_widths, NULL, "layer widths, inputs first", NULL},
    {"activation", (getter)Net_get_activation, NULL, "hidden activation", NULL},
    {"offsets", (getter)Net_get_offsets, NULL, "(weight, bias) offsets of every layer in the parameter block", NULL},
    {"kernels", (getter)Net_get_kernels, NULL, "the kernel path in use", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMemberDef Net_members[] = {
    {"max_batch", T_INT, offsetof(NetObject, net.max_batch), READONLY, "rows per forward call"},
    {"threads", T_INT, offsetof(NetObject, net.threads), READONLY, "threads of the kernels"},
    {NULL, 0, 0, 0, NULL}};

static PyTypeObject NetType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "mlp._mlp.Net",
    .tp_basicsize = sizeof(NetObject),
    .tp_dealloc = (destructor)Net_dealloc,
    .tp_as_buffer = &Net_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Net(widths, activation, max_batch=256): an mlp_net; its parameters are a float32 buffer",
    .tp_methods = Net_methods,
    .tp_getset = Net_getset,
    .tp_members = Net_members,
    .tp_new = Net_new,
};

/* ------------------------------------------------------------------ loss and training configuration */

static int dict_float(PyObject *d, const char *key, float *out) {
    PyObject *v = PyDict_GetItemString(d, key); /* borrowed */
    if (!v) return 0;
    double x = PyFloat_AsDouble(v);
    if (x == -1.0 && PyErr_Occurred()) return -1;
    *out = (float)x;
    return 0;
}

static int dict_int(PyObject *d, const char *key, long *out) {
    PyObject *v = PyDict_GetItemString(d, key);
    if (!v) return 0;
    long x = PyLong_AsLong(v);
    if (x == -1 && PyErr_Occurred()) return -1;
    *out = x;
    return 0;
}

/* {"kind": "ce", "hinge_margin": 5, "focal_gamma": 2, "focal_alpha": float or sequence of K floats}; the alphas go
 * into *alpha (malloc'ed, or NULL when not given: 0.1), which the caller frees once the cfg is no longer used. */
static int parse_loss(PyObject *cfg, mlp_loss_cfg *loss, int K, float **alpha_out) {
    *alpha_out = NULL;
    if (!PyDict_Check(cfg)) {
        PyErr_SetString(PyExc_TypeError, "loss configuration must be a dict");
        return -1;
    }
    PyObject *kind = PyDict_GetItemString(cfg, "kind");
    const char *name = kind ? PyUnicode_AsUTF8(kind) : "ce";
    if (!name) return -1;
    mlp_loss l;
    if (mlp_loss_parse(name, &l) != 0) {
        PyErr_Format(PyExc_ValueError, "unknown loss '%s' (ce, hinge, focal, mse)", name);
        return -1;
    }
    *loss = mlp_loss_default(l);
    if (dict_float(cfg, "hinge_margin", &loss->hinge_margin) || dict_float(cfg, "focal_gamma", &loss->focal_gamma))
        return -1;
    PyObject *alpha = PyDict_GetItemString(cfg, "focal_alpha");
    if (alpha && alpha != Py_None) {
        float *v = malloc(sizeof(float) * (size_t)(K > 0 ? K : 1));
        if (!v) {
            PyErr_NoMemory();
            return -1;
        }
        loss->focal_alpha = v;
        loss->n_focal_alpha = K;
        *alpha_out = v;
        if (PyNumber_Check(alpha)) {
            double a = PyFloat_AsDouble(alpha);
            if (a == -1.0 && PyErr_Occurred()) goto fail;
            for (int k = 0; k < K; k++) v[k] = (float)a;
        } else {
            PyObject *seq = PySequence_Fast(alpha, "focal_alpha must be a number or a sequence of one per class");
            if (!seq) goto fail;
            if (PySequence_Fast_GET_SIZE(seq) != K) {
                PyErr_Format(PyExc_ValueError, "focal_alpha has %zd values for %d classes", PySequence_Fast_GET_SIZE(seq), K);
                Py_DECREF(seq);
                goto fail;
            }
            for (int k = 0; k < K; k++) {
                double a = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(seq, k));
                if (a == -1.0 && PyErr_Occurred()) {
                    Py_DECREF(seq);
                    goto fail;
                }
                v[k] = (float)a;
            }
            Py_DECREF(seq);
        }
    }
    return 0;
fail:
    free(*alpha_out);
    *alpha_out = NULL;
    return -1;
}

/* ------------------------------------------------------------------ Trainer */

typedef struct {
    PyObject_HEAD
    NetObject *net;
    dataset_view data;
    mlp_trainer t;
    float *alpha; /* the focal alphas t.cfg.loss points at (NULL: 0.1) */
    int ready;
    volatile int no_stop; /* the stop flag of a trainer driven from another thread (never raised) */
} TrainerObject;

static PyTypeObject TrainerType;

/* Trainer(net, x, y, cfg): cfg holds loss (dict), lr, wd, momentum, reduction ("mean"/"sum"), batch,
 * shuffle, seed, epochs_done, and the optimizer (optim, nesterov, beta1, beta2, eps) and schedule (schedule,
 * epochs, warmup_epochs, step_epochs, step_gamma, min_lr) and dropout of mlp_train_cfg; absent keys keep
 * mlp_train_cfg_default's values. The library checks them all (mlp_trainer_init). */
static PyObject *trainer_make(NetObject *net, PyObject *xo, PyObject *yo, PyObject *cfg, mlp_train_cfg *cp, int K,
                              float *alpha);

static PyObject *Trainer_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"net", "x", "y", "cfg", NULL};
    NetObject *net;
    PyObject *xo, *yo, *cfg;
    (void)type;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!OOO!", kwlist, &NetType, &net, &xo, &yo, &PyDict_Type, &cfg))
        return NULL;
    const int K = net->net.arch.width[net->net.arch.n_layers];
    mlp_train_cfg c = mlp_train_cfg_default();
    PyObject *loss = PyDict_GetItemString(cfg, "loss");
    float *alpha = NULL; /* owned by the trainer object once it exists */
    if (loss && parse_loss(loss, &c.loss, K, &alpha)) return NULL;
    PyObject *res = trainer_make(net, xo, yo, cfg, &c, K, alpha);
    if (!res) free(alpha);
    return res;
}

/* The rest of Trainer_new, with the loss parsed (alpha: its focal alphas, which the trainer object takes). */
static PyObject *trainer_make(NetObject *net, PyObject *xo, PyObject *yo, PyObject *cfg, mlp_train_cfg *cp, int K,
                              float *alpha) {
    mlp_train_cfg c = *cp;
    long batch = c.batch, shuffle = 1, epochs_done = 0;
    unsigned long long seed = 1;
    PyObject *seed_o = PyDict_GetItemString(cfg, "seed");
    if (seed_o) {
        seed = PyLong_AsUnsignedLongLongMask(seed_o);
        if (PyErr_Occurred()) return NULL;
    }
    if (dict_float(cfg, "lr", &c.lr) || dict_float(cfg, "wd", &c.wd) || dict_float(cfg, "momentum", &c.momentum) ||
        dict_int(cfg, "batch", &batch) || dict_int(cfg, "shuffle", &shuffle) || dict_int(cfg, "epochs_done", &epochs_done))
        return NULL;
    long nesterov = 0, epochs = 1, warmup = 0, step_epochs = c.step_epochs;
    if (dict_int(cfg, "nesterov", &nesterov) || dict_int(cfg, "epochs", &epochs) ||
        dict_int(cfg, "warmup_epochs", &warmup) || dict_int(cfg, "step_epochs", &step_epochs) ||
        dict_float(cfg, "beta1", &c.beta1) || dict_float(cfg, "beta2", &c.beta2) || dict_float(cfg, "eps", &c.eps) ||
        dict_float(cfg, "step_gamma", &c.step_gamma) || dict_float(cfg, "min_lr", &c.min_lr) ||
        dict_float(cfg, "dropout", &c.dropout))
        return NULL;
    if (epochs < 1 || epochs > INT32_MAX || warmup < 0 || warmup > INT32_MAX || step_epochs < 1 || step_epochs > INT32_MAX)
        return PyErr_Format(PyExc_ValueError, "epochs %ld, warmup_epochs %ld, step_epochs %ld: out of range", epochs,
                            warmup, step_epochs);
    c.nesterov = nesterov != 0;
    c.epochs = (int)epochs;
    c.warmup_epochs = (int)warmup;
    c.step_epochs = (int)step_epochs;
    PyObject *opt = PyDict_GetItemString(cfg, "optim");
    if (opt) {
        const char *o = PyUnicode_AsUTF8(opt);
        if (!o) return NULL;
        if (mlp_optim_parse(o, &c.optim) != 0)
            return PyErr_Format(PyExc_ValueError, "unknown optimizer '%s' (sgd, adam, adamw)", o);
    }
    PyObject *sched = PyDict_GetItemString(cfg, "schedule");
    if (sched) {
        const char *o = PyUnicode_AsUTF8(sched);
        if (!o) return NULL;
        if (mlp_schedule_parse(o, &c.schedule) != 0)
            return PyErr_Format(PyExc_ValueError, "unknown learning-rate schedule '%s' (constant, step, cosine)", o);
    }
    PyObject *red = PyDict_GetItemString(cfg, "reduction");
    if (red) {
        const char *r = PyUnicode_AsUTF8(red);
        if (!r) return NULL;
        if (strcmp(r, "mean") == 0) c.reduction = MLP_GRAD_MEAN;
        else if (strcmp(r, "sum") == 0) c.reduction = MLP_GRAD_SUM;
        else return PyErr_Format(PyExc_ValueError, "grad_reduction '%s': must be 'mean' or 'sum'", r);
    }
    if (batch < 1 || batch > INT32_MAX) return PyErr_Format(PyExc_ValueError, "batch size %ld: must be >= 1", batch);
    c.batch = (int)batch;
    c.shuffle = shuffle != 0;
    c.seed = (uint64_t)seed;
    if (c.batch > net->net.max_batch)
        return PyErr_Format(PyExc_ValueError, "batch size %d exceeds the network's max_batch %d", c.batch,
                            net->net.max_batch);

    TrainerObject *self = PyObject_New(TrainerObject, &TrainerType);
    if (!self) return NULL;
    self->alpha = NULL; /* taken at the end: until then a failure leaves alpha to the caller */
    self->ready = 0;
    self->no_stop = 0;
    memset(&self->t, 0, sizeof self->t);
    memset(&self->data, 0, sizeof self->data);
    Py_INCREF(net);
    self->net = net;
    if (dataset_view_make(&self->data, xo, yo, K)) {
        Py_DECREF(self);
        return NULL;
    }
    mlp_error err;
    mlp_status st;
    /* builds the compressed training set of the sparse first layer: O(n dim) */
    WITH_NET_UNLOCKED(net, st = mlp_trainer_init(&self->t, &net->net, &c, &self->data.ds, NULL, &err));
    if (st) {
        Py_DECREF(self);
        return raise_mlp(st, &err);
    }
    self->t.epochs_done = (int)epochs_done;
    self->alpha = alpha;
    self->ready = 1;
    return (PyObject *)self;
}

static void Trainer_dealloc(TrainerObject *self) {
    if (self->ready) mlp_trainer_free(&self->t);
    free(self->alpha);
    dataset_view_release(&self->data);
    Py_XDECREF(self->net);
    PyObject_Free(self);
}

/* epoch(catch_sigint) -> (train loss, train accuracy, seconds). With catch_sigint (the caller is the main
 * thread), Ctrl-C stops the epoch after the current step and raises KeyboardInterrupt: the network holds the
 * parameters of the last step done, and the trainer can continue that epoch. */
static PyObject *Trainer_epoch(TrainerObject *self, PyObject *args) {
    int catch_sigint = 0;
    if (!PyArg_ParseTuple(args, "|p", &catch_sigint)) return NULL;
    mlp_epoch_metrics m;
    mlp_error err;
    mlp_status st;
    struct sigaction sa, old;
    int installed = 0;
    sigint_flag = 0;
    if (catch_sigint) {
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigint;
        sigemptyset(&sa.sa_mask);
        installed = sigaction(SIGINT, &sa, &old) == 0;
    }
    self->t.stop_flag = installed ? &sigint_flag : &self->no_stop;
    WITH_NET_UNLOCKED(self->net, st = mlp_trainer_epoch(&self->t, &m, &err));
    if (installed) sigaction(SIGINT, &old, NULL);
    self->t.stop_flag = NULL;
    const int stopped = installed && sigint_flag;
    sigint_flag = 0;
    if (st) return raise_mlp(st, &err);
    PyObject *res = Py_BuildValue("ddd", m.train_loss, m.train_acc, m.seconds);
    if (res && stopped) { /* Ctrl-C during the epoch's last step: the epoch is complete, report it */
        PyObject *exc_args = Py_BuildValue("(sN)", "interrupted after a complete epoch", res);
        PyErr_SetObject(PyExc_KeyboardInterrupt, exc_args);
        Py_XDECREF(exc_args);
        return NULL;
    }
    return res;
}

static PyMethodDef Trainer_methods[] = {
    {"epoch", (PyCFunction)Trainer_epoch, METH_VARARGS, "epoch(catch_sigint=False) -> (loss, accuracy, seconds)"},
    {NULL, NULL, 0, NULL}};

static PyMemberDef Trainer_members[] = {
    {"epochs_done", T_INT, offsetof(TrainerObject, t.epochs_done), READONLY, "epochs completed"},
    {"step_in_epoch", T_INT, offsetof(TrainerObject, t.step_in_epoch), READONLY, "steps done in an unfinished epoch"},
    {NULL, 0, 0, 0, NULL}};

static PyTypeObject TrainerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "mlp._mlp.Trainer",
    .tp_basicsize = sizeof(TrainerObject),
    .tp_dealloc = (destructor)Trainer_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Trainer(net, x, y, cfg): mlp_trainer over float32 x [n x dim] (not copied) and int32 y",
    .tp_methods = Trainer_methods,
    .tp_members = Trainer_members,
    .tp_new = Trainer_new,
};

/* load_idx(images, labels, offset, scale) -> (x bytes [n x dim] float32, y bytes [n] int32, n, rows, cols):
 * an IDX pair read and scaled by the library exactly as `mlp train` reads it. */
static PyObject *mod_load_idx(PyObject *mod, PyObject *args) {
    PyObject *img_o, *lab_o;
    float offset, scale;
    (void)mod;
    if (!PyArg_ParseTuple(args, "O&O&ff", PyUnicode_FSConverter, &img_o, PyUnicode_FSConverter, &lab_o, &offset,
                          &scale))
        return NULL;
    mlp_dataset ds;
    mlp_error err;
    mlp_status st;
    mlp_scaling s = {offset, scale};
    const char *ip = PyBytes_AS_STRING(img_o), *lp = PyBytes_AS_STRING(lab_o);
    memset(&ds, 0, sizeof ds);
    Py_BEGIN_ALLOW_THREADS
    st = mlp_dataset_load_idx(&ds, ip, lp, s, &err);
    Py_END_ALLOW_THREADS
    Py_DECREF(img_o);
    Py_DECREF(lab_o);
    if (st) return raise_mlp(st, &err);
    PyObject *x = PyBytes_FromStringAndSize((const char *)ds.x, (Py_ssize_t)ds.n * ds.dim * (Py_ssize_t)sizeof(float));
    PyObject *y = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)ds.n * (Py_ssize_t)sizeof(int32_t));
    if (x && y) {
        int32_t *yp = (int32_t *)(void *)PyBytes_AS_STRING(y);
        for (int i = 0; i < ds.n; i++) yp[i] = (int32_t)ds.y[i];
    }
    const int n = ds.n, rows = ds.rows, cols = ds.cols;
    mlp_dataset_free(&ds);
    if (!x || !y) {
        Py_XDECREF(x);
        Py_XDECREF(y);
        return NULL;
    }
    return Py_BuildValue("NNiii", x, y, n, rows, cols);
}

/* ------------------------------------------------------------------ module */

static PyMethodDef module_methods[] = {
    {"load", mod_load, METH_VARARGS, "load(path, max_batch=256) -> (Net, metadata)"},
    {"load_idx", mod_load_idx, METH_VARARGS, "load_idx(images, labels, offset, scale) -> (x, y, n, rows, cols)"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "mlp._mlp", "libmlp, the C library behind mlp",
                                        -1, module_methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__mlp(void) {
    if (PyType_Ready(&NetType) < 0 || PyType_Ready(&TrainerType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m) return NULL;
    Py_INCREF(&NetType);
    Py_INCREF(&TrainerType);
    if (PyModule_AddObject(m, "Net", (PyObject *)&NetType) < 0 ||
        PyModule_AddObject(m, "Trainer", (PyObject *)&TrainerType) < 0 ||
        PyModule_AddStringConstant(m, "version", MLP_VERSION) < 0 ||
        PyModule_AddIntConstant(m, "MAX_LAYERS", MLP_MAX_LAYERS) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
