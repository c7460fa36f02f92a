"""mlp.MLPClassifier: scikit-learn's MLPClassifier interface over libmlp's trainer.

Everything numeric runs in C (mlp._mlp): initialisation, every training step (the fused, threaded
epoch of mlp_trainer_epoch), evaluation and prediction. This file holds the estimator protocol:
parameter checking, label encoding, the epoch loop with scikit-learn's stopping rules, and views of
the C parameter block in scikit-learn's layout.
"""
import numbers
import os
import threading
import warnings

import numpy as np

from . import _mlp
from ._compat import (
    HAVE_SKLEARN,
    BaseEstimator,
    ClassifierMixin,
    ConvergenceWarning,
    NotFittedError,
    check_classification_targets,
    check_random_state,
    check_X,
    check_X_y,
    column_or_1d,
    train_test_split,
)

ACTIVATIONS = ("relu", "sigmoid", "tanh", "selu", "swish", "gelu")
# scikit-learn's names for the same functions
ACTIVATION_ALIASES = {"logistic": "sigmoid", "silu": "swish"}
LOSSES = ("ce", "hinge", "focal", "mse")
PROBA_LOSSES = ("ce", "focal")
SOLVERS = ("adam", "sgd", "adamw")
SPLIT_MACS = 4e6  # multiply-adds per training batch below which one thread is faster (digits: 1e6, MNIST: 1e7)
SCHEDULES = ("constant", "step", "cosine")  # losses whose minimiser is softmax(logits) = P(class | x)
PREDICT_ROWS = 1024  # rows per forward call when predicting


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class _available_if:
    """A method that exists only when check(self) is true (hasattr is False otherwise), as scikit-learn's
    available_if: predict_proba exists only for losses that define probabilities."""

    def __init__(self, check):
        self.check = check

    def __call__(self, fn):
        self.fn = fn
        self.__doc__ = fn.__doc__
        return self

    def __get__(self, obj, owner=None):
        if obj is not None:
            if not self.check(obj):
                raise AttributeError("%s has no %s with loss=%r (no probabilities)"
                                     % (type(obj).__name__, self.fn.__name__, getattr(obj, "loss", None)))
            return self.fn.__get__(obj, owner)
        return self.fn


def _has_proba(self):
    return self.loss in PROBA_LOSSES


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """Multilayer perceptron classifier trained by libmlp.

    Parameters with scikit-learn's names mean what they mean in sklearn.neural_network.MLPClassifier:

    hidden_layer_sizes : tuple of int, default (128,)
        Widths of the hidden layers (up to 15).
    activation : {"relu", "sigmoid" (or "logistic"), "tanh", "selu", "swish", "gelu"}, default "gelu"
        After every hidden layer (gelu is the tanh form).
    solver : {"adam", "sgd", "adamw"}, default "adam"
        Adam (`beta_1`, `beta_2`, `epsilon`), SGD with momentum (`momentum`, `nesterovs_momentum`), or AdamW
        (mlp's: Adam with decoupled weight decay, `alpha` being the decay rate per step, as torch.optim.AdamW).
    alpha : float, default 1e-4
        L2 penalty: the objective is mean loss + alpha / (2 batch) ||params||^2 per batch, as scikit-learn's,
        except that mlp decays the biases too. With grad_reduction="sum", batch sums: loss sum + alpha/2 ||params||^2.
    batch_size : int or "auto", default "auto"
        Rows per step; "auto" is min(200, n_samples). Clipped to n_samples.
    learning_rate_init : float, default 1e-3
    max_iter : int, default 200
        Epochs.
    shuffle : bool, default True
        A fresh permutation of the training set every epoch.
    random_state : int, RandomState or None
        An int is used as mlp's seed itself (random_state=1 is `mlp train --seed 1`); otherwise a seed is drawn
        from it. The same seed and data give the same model bit for bit, whatever n_threads.
    tol, n_iter_no_change, early_stopping, validation_fraction, verbose, warm_start, momentum,
    nesterovs_momentum, beta_1, beta_2, epsilon :
        As scikit-learn's.
    learning_rate : {"constant"}, default "constant"
        scikit-learn's schedules "invscaling" and "adaptive" are not mlp's; use lr_schedule.
    power_t, max_fun :
        Accepted for compatibility; as in scikit-learn they matter only for learning_rate="invscaling" and
        solver="lbfgs", which mlp does not have.

    mlp's own parameters:

    loss : {"ce", "hinge", "focal", "mse"}, default "ce"
        Cross-entropy on softmax, multi-class hinge with margin `hinge_margin`, focal loss (`focal_gamma`,
        `focal_alpha`), or squared error to the one-hot target. predict_proba exists for ce and focal.
    hinge_margin : float, default 5
    focal_gamma : float, default 2
    focal_alpha : float or sequence of one float per class, default 0.1
    grad_reduction : {"mean", "sum"}, default "mean"
        Gradient of the mean loss over a batch (scikit-learn's convention) or of the sum (the reference
        experiment's).
    lr_schedule : {"constant", "step", "cosine"}, default "constant"
        mlp's per-epoch schedules over max_iter epochs, after `warmup_epochs` of linear warm-up: step multiplies
        the rate by `step_gamma` every `step_epochs` epochs; cosine anneals it to `min_lr`.
    warmup_epochs, step_epochs, step_gamma, min_lr : 0, 30, 0.1, 0.0
    dropout : float in [0, 1), default 0
        Inverted dropout on the hidden layers' outputs while training (masks from the seed: repeatable).
    init_std : float or None, default None
        Initial weights N(0, init_std^2) in every layer (biases 0), as `mlp train --init-std`. None: Glorot,
        std sqrt(2 / (fan_in + fan_out)) per layer.
    n_threads : int or None, default None
        Threads for training and prediction; None uses every CPU this process may run on, except that training
        steps of fewer than 4e6 multiply-adds (batch x weights) run on one thread.

    Attributes: classes_, n_features_in_ (feature_names_in_ with scikit-learn), loss_, loss_curve_ (the
    mean training loss of each epoch, measured on each batch before its update, without the L2 term),
    best_loss_, validation_scores_, best_validation_score_, n_iter_, t_, coefs_ and intercepts_ (views of
    the parameters: coefs_[i] has shape (fan_in, fan_out)), n_layers_, n_outputs_, out_activation_.
    """

    def __init__(self, hidden_layer_sizes=(128,), activation="gelu", *, solver="adam", alpha=1e-4,
                 batch_size="auto", learning_rate="constant", learning_rate_init=1e-3, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, max_fun=15000, loss="ce", hinge_margin=5.0, focal_gamma=2.0,
                 focal_alpha=0.1, grad_reduction="mean", lr_schedule="constant", warmup_epochs=0, step_epochs=30,
                 step_gamma=0.1, min_lr=0.0, dropout=0.0, init_std=None, n_threads=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.loss = loss
        self.hinge_margin = hinge_margin
        self.focal_gamma = focal_gamma
        self.focal_alpha = focal_alpha
        self.grad_reduction = grad_reduction
        self.lr_schedule = lr_schedule
        self.warmup_epochs = warmup_epochs
        self.step_epochs = step_epochs
        self.step_gamma = step_gamma
        self.min_lr = min_lr
        self.dropout = dropout
        self.init_std = init_std
        self.n_threads = n_threads

    # ------------------------------------------------------------------ parameters

    def _hidden(self):
        h = self.hidden_layer_sizes
        if isinstance(h, numbers.Integral):
            h = (h,)
        h = tuple(h)
        if len(h) > _mlp.MAX_LAYERS - 1:
            raise ValueError("hidden_layer_sizes: at most %d hidden layers, got %d" % (_mlp.MAX_LAYERS - 1, len(h)))
        for w in h:
            if not isinstance(w, numbers.Integral) or w < 1:
                raise ValueError("hidden_layer_sizes must be > 0, got %s." % (h,))
        return tuple(int(w) for w in h)

    def _act(self):
        a = ACTIVATION_ALIASES.get(self.activation, self.activation)
        if a not in ACTIVATIONS:
            raise ValueError("activation %r is not supported; use one of %s" % (self.activation, ", ".join(ACTIVATIONS)))
        return a

    def _check_params(self):
        if self.solver not in SOLVERS:
            raise ValueError("solver %r is not supported; use one of %s" % (self.solver, ", ".join(SOLVERS)))
        if self.learning_rate != "constant":
            raise ValueError("learning_rate %r is not supported (only 'constant'); mlp's schedules are lr_schedule="
                             "'step' or 'cosine'" % (self.learning_rate,))
        if self.lr_schedule not in SCHEDULES:
            raise ValueError("lr_schedule %r is not supported; use one of %s" % (self.lr_schedule, ", ".join(SCHEDULES)))
        if self.loss not in LOSSES:
            raise ValueError("loss %r is not supported; use one of %s" % (self.loss, ", ".join(LOSSES)))
        if self.grad_reduction not in ("mean", "sum"):
            raise ValueError("grad_reduction must be 'mean' or 'sum', got %r" % (self.grad_reduction,))
        for name, lo in (("learning_rate_init", 0.0), ("alpha", 0.0), ("tol", 0.0)):
            v = getattr(self, name)
            if not isinstance(v, numbers.Real) or not np.isfinite(v) or v < lo or (name == "learning_rate_init" and v <= 0):
                raise ValueError("%s must be a finite number %s 0, got %r" % (name, ">" if name == "learning_rate_init" else ">=", v))
        if not isinstance(self.momentum, numbers.Real) or not 0 <= self.momentum < 1:
            raise ValueError("momentum must be >= 0 and < 1, got %r" % (self.momentum,))
        if not isinstance(self.max_iter, numbers.Integral) or self.max_iter < 1:
            raise ValueError("max_iter must be > 0, got %r." % (self.max_iter,))
        if not isinstance(self.n_iter_no_change, numbers.Integral) or self.n_iter_no_change < 1:
            raise ValueError("n_iter_no_change must be > 0, got %r." % (self.n_iter_no_change,))
        if not 0 < self.validation_fraction < 1:
            raise ValueError("validation_fraction must be >= 0 and < 1, got %r" % (self.validation_fraction,))
        if self.batch_size != "auto" and (not isinstance(self.batch_size, numbers.Integral) or self.batch_size < 1):
            raise ValueError("batch_size must be 'auto' or an int >= 1, got %r" % (self.batch_size,))
        if self.init_std is not None and not (isinstance(self.init_std, numbers.Real) and 0 <= self.init_std <= 100):
            raise ValueError("init_std must be None or a number in [0, 100], got %r" % (self.init_std,))
        if self.n_threads is not None and (not isinstance(self.n_threads, numbers.Integral) or self.n_threads < 1):
            raise ValueError("n_threads must be None or an int >= 1, got %r" % (self.n_threads,))
        self._hidden()
        self._act()

    def _loss_cfg(self):
        alpha = self.focal_alpha
        if alpha is not None and not isinstance(alpha, numbers.Real):
            alpha = tuple(float(a) for a in alpha)
        return {"kind": self.loss, "hinge_margin": float(self.hinge_margin), "focal_gamma": float(self.focal_gamma),
                "focal_alpha": alpha}

    def _threads(self, batch=None, widths=None):
        """n_threads, or with None: every CPU, except for training steps too small to split (fewer than
        SPLIT_MACS multiply-adds per batch: the threads would wait for each other more than they compute)."""
        if self.n_threads is not None:
            return int(self.n_threads)
        if batch is not None and widths is not None:
            macs = batch * sum(widths[l] * widths[l + 1] for l in range(len(widths) - 1))
            if macs < SPLIT_MACS:
                return 1
        return _cpu_count()

    # ------------------------------------------------------------------ the network

    def _seed(self):
        if isinstance(self.random_state, numbers.Integral) and not isinstance(self.random_state, bool):
            return int(self.random_state) & 0xFFFFFFFFFFFFFFFF
        return int(check_random_state(self.random_state).randint(0, 2**31 - 1))

    def _new_net(self, n_features, n_classes, max_batch):
        widths = (n_features,) + self._hidden() + (n_classes,)
        net = _mlp.Net(widths, self._act(), max(max_batch, PREDICT_ROWS))
        net.set_threads(self._threads())
        return net

    def _init_net(self, net, seed):
        w = net.widths
        if self.init_std is None:
            stds = [np.sqrt(2.0 / (w[l] + w[l + 1])) for l in range(len(w) - 1)]
        else:
            stds = [float(self.init_std)] * (len(w) - 1)
        net.init(seed, stds)

    def _ensure_batch(self, batch):
        """The network can take batches of `batch` rows (recreated with the same parameters if not)."""
        net = self._net
        if net.max_batch >= batch:
            return
        bigger = _mlp.Net(net.widths, net.activation, batch)
        np.frombuffer(bigger, dtype=np.float32)[:] = np.frombuffer(net, dtype=np.float32)
        bigger.set_state(net.get_state())
        bigger.set_threads(net.threads)
        self._net = bigger

    def _params(self):
        net = self.__dict__.get("_net")
        if net is None:
            raise NotFittedError("This %s instance is not fitted yet. Call 'fit' with appropriate arguments before "
                                 "using this estimator." % type(self).__name__)
        return net, np.frombuffer(net, dtype=np.float32)

    @property
    def coefs_(self):
        """Weight matrices, coefs_[i] of shape (fan_in, fan_out): views (transposes) of mlp's [out x in] blocks."""
        net, p = self._params()
        w = net.widths
        return [p[wo:wo + w[l] * w[l + 1]].reshape(w[l + 1], w[l]).T for l, (wo, _) in enumerate(net.offsets)]

    @property
    def intercepts_(self):
        """Bias vectors, intercepts_[i] of shape (fan_out,): views of mlp's parameters."""
        net, p = self._params()
        w = net.widths
        return [p[bo:bo + w[l + 1]] for l, (_, bo) in enumerate(net.offsets)]

    @property
    def n_layers_(self):
        return len(self._params()[0].widths)

    @property
    def n_outputs_(self):
        return self._params()[0].widths[-1]

    @property
    def out_activation_(self):
        return "softmax" if self.loss in PROBA_LOSSES else "identity"

    # ------------------------------------------------------------------ fitting

    def _encode(self, y, classes=None):
        """y as int32 class indices into classes_ (set from y, or from `classes`)."""
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if classes is None:
            classes, idx = np.unique(y, return_inverse=True)
            return classes, idx.astype(np.int32)
        idx = np.searchsorted(classes, y)
        idx = np.clip(idx, 0, len(classes) - 1)
        bad = classes[idx] != y
        if np.any(bad):
            raise ValueError("y holds labels that are not in classes_ %s: %s" % (list(classes), list(np.unique(y[bad]))[:5]))
        return classes, idx.astype(np.int32)

    def _train_cfg(self, batch, seed, epochs_done=0):
        if self.solver == "adamw":  # decoupled: p <- p (1 - lr alpha) every step
            wd = float(self.alpha)
        else:  # coupled L2 of scikit-learn's scaling, alpha / (2 B) ||W||^2 per batch of B rows
            wd = float(self.alpha) / batch if self.grad_reduction == "mean" else float(self.alpha)
        return {"loss": self._loss_cfg(), "lr": float(self.learning_rate_init), "wd": wd,
                "momentum": float(self.momentum), "reduction": self.grad_reduction, "batch": int(batch),
                "shuffle": int(bool(self.shuffle)), "seed": seed, "epochs_done": epochs_done,
                "optim": self.solver,
                "nesterov": int(self.solver == "sgd" and bool(self.nesterovs_momentum) and self.momentum > 0),
                "beta1": float(self.beta_1), "beta2": float(self.beta_2), "eps": float(self.epsilon),
                "schedule": self.lr_schedule, "epochs": max(int(self.max_iter), epochs_done + 1),
                "warmup_epochs": int(self.warmup_epochs), "step_epochs": int(self.step_epochs),
                "step_gamma": float(self.step_gamma), "min_lr": float(self.min_lr), "dropout": float(self.dropout)}

    def _batch(self, n):
        b = min(200, n) if self.batch_size == "auto" else int(self.batch_size)
        if b > n:
            if self.batch_size != "auto":
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped")
            b = n
        return b

    def fit(self, X, y):
        """Train for up to max_iter epochs (fewer when the stopping rule of tol / n_iter_no_change fires).

        Ctrl-C stops training after the current step and raises KeyboardInterrupt; the model stays usable with
        the parameters reached (loss_curve_ lists the complete epochs)."""
        self._check_params()
        X, y = check_X_y(self, X, y, reset=True)
        classes, yi = self._encode(y)
        warm = self.warm_start and self.__dict__.get("_net") is not None and \
            self._net.widths == (X.shape[1],) + self._hidden() + (len(classes),) and \
            np.array_equal(getattr(self, "classes_", None), classes)
        self.classes_ = classes
        self.__dict__.pop("feature_scaling_", None)  # fitted on X as given
        if len(classes) < 2:
            raise ValueError("MLPClassifier needs samples of at least 2 classes in the data, but the data contains "
                             "only one class: %r" % (classes[0],))
        if not warm:
            self._reset_state()
        self._run(X, yi, self.max_iter, incremental=False)
        return self

    def partial_fit(self, X, y, classes=None):
        """One epoch over (X, y), continuing from the current parameters. The first call needs `classes`
        (every label that will ever be seen)."""
        self._check_params()
        first = self.__dict__.get("_net") is None
        X, y = check_X_y(self, X, y, reset=first)
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            classes = np.unique(column_or_1d(np.asarray(classes)))
            if len(classes) < 2:
                raise ValueError("MLPClassifier needs at least 2 classes, got %r" % (list(classes),))
            self.classes_ = classes
            self.__dict__.pop("feature_scaling_", None)  # fitted on X as given
            self._reset_state()
        elif classes is not None and not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
            raise ValueError("`classes=%r` is not the same as on the last call to partial_fit, was: %r"
                             % (classes, self.classes_))
        _, yi = self._encode(y, self.classes_)
        self._run(X, yi, 1, incremental=True)
        return self

    def _reset_state(self):
        for k in ("_net", "loss_", "best_loss_", "best_validation_score_"):
            self.__dict__.pop(k, None)
        self.loss_curve_ = []
        self.validation_scores_ = None
        self.n_iter_ = 0
        self.t_ = 0
        self._no_improvement_count = 0
        self._seed_ = self._seed()

    def _run(self, X, yi, epochs, incremental):
        n = X.shape[0]
        if self.early_stopping and not incremental:
            strat = yi if np.min(np.bincount(yi)) >= 2 else None
            try:
                X, X_val, yi, y_val = train_test_split(X, yi, random_state=self._seed_ % (2**32),
                                                       test_size=self.validation_fraction, stratify=strat)
            except ValueError:  # too few samples per class for a stratified split
                X, X_val, yi, y_val = train_test_split(X, yi, random_state=self._seed_ % (2**32),
                                                       test_size=self.validation_fraction)
            X, X_val = np.ascontiguousarray(X), np.ascontiguousarray(X_val)
            yi, y_val = np.ascontiguousarray(yi, dtype=np.int32), np.ascontiguousarray(y_val, dtype=np.int32)
            n = X.shape[0]
            if self.validation_scores_ is None:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
        else:
            X_val = None
            if "best_loss_" not in self.__dict__:
                self.best_loss_ = np.inf
        batch = self._batch(n)
        if self.__dict__.get("_net") is None:
            self._net = self._new_net(X.shape[1], len(self.classes_), batch)
            self._init_net(self._net, self._seed_)
        else:
            self._ensure_batch(batch)
        self._net.set_threads(self._threads(batch, self._net.widths))
        # every call continues the generator sequence: a different permutation order for each (partial_)fit
        seed = (self._seed_ + 0x9E3779B97F4A7C15 * self.n_iter_) & 0xFFFFFFFFFFFFFFFF if self.n_iter_ else self._seed_
        trainer = _mlp.Trainer(self._net, X, yi, self._train_cfg(batch, seed, self.n_iter_))
        main = threading.current_thread() is threading.main_thread()
        best = None
        converged = False
        for _ in range(epochs):
            try:
                loss, _acc, _sec = trainer.epoch(main)
            except KeyboardInterrupt as e:
                if len(e.args) == 2:  # the epoch was complete
                    self._record_epoch(e.args[1][0], n)
                raise
            self._record_epoch(loss, n)
            if X_val is not None:
                _, acc = self._net.evaluate(X_val, y_val, self._loss_cfg())
                self.validation_scores_.append(acc)
                if acc < self.best_validation_score_ + self.tol:
                    self._no_improvement_count += 1
                else:
                    self._no_improvement_count = 0
                if acc > self.best_validation_score_:
                    self.best_validation_score_ = acc
                    best = np.frombuffer(self._net, dtype=np.float32).copy()
                if self.verbose:
                    print("Validation score: %f" % acc)
            if self._no_improvement_count > self.n_iter_no_change:
                if not incremental:
                    converged = True
                    if self.verbose:
                        what = "Validation score" if X_val is not None else "Training loss"
                        print("%s did not improve more than tol=%f for %d consecutive epochs. Stopping."
                              % (what, self.tol, self.n_iter_no_change))
                    break
        if best is not None:
            np.frombuffer(self._net, dtype=np.float32)[:] = best
        if not incremental and not converged and self.max_iter > 0 and epochs == self.max_iter:
            warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and the optimization hasn't "
                          "converged yet." % self.max_iter, ConvergenceWarning)

    def _record_epoch(self, loss, n):
        """Bookkeeping of one finished epoch (with the training-loss stopping rule when there is no validation)."""
        self.n_iter_ += 1
        self.t_ += n
        self.loss_ = float(loss)
        self.loss_curve_.append(self.loss_)
        if self.verbose:
            print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
        if self.validation_scores_ is None:
            if self.loss_ > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_ < self.best_loss_:
                self.best_loss_ = self.loss_

    # ------------------------------------------------------------------ prediction

    def _logits(self, X):
        if "classes_" not in self.__dict__ or self.__dict__.get("_net") is None:
            raise NotFittedError("This %s instance is not fitted yet. Call 'fit' with appropriate arguments before "
                                 "using this estimator." % type(self).__name__)
        X = check_X(self, X, reset=False)
        scaling = self.__dict__.get("feature_scaling_")  # a loaded model's (mlp.load): raw features in
        if scaling is not None:
            X = np.ascontiguousarray((X - scaling[0]) * scaling[1], dtype=np.float32)
        out = np.empty((X.shape[0], self._net.widths[-1]), dtype=np.float32)
        threads = self._threads()
        if self._net.threads != threads:  # the library splits only large enough predictions
            self._net.set_threads(threads)
        self._net.forward(X, out)
        return out

    def decision_logits(self, X):
        """The network's outputs (logits) for X, shape (n_samples, n_classes), float32."""
        return self._logits(X)

    def predict(self, X):
        """The class of each row of X: the label whose logit is largest (the first on ties)."""
        logits = self._logits(X)  # first: NotFittedError before classes_ is looked up
        return self.classes_[np.argmax(logits, axis=1)]

    @_available_if(_has_proba)
    def predict_proba(self, X):
        """softmax of the logits (loss "ce" or "focal"), shape (n_samples, n_classes), columns in classes_ order."""
        return _softmax(self._logits(X).astype(np.float64))

    @_available_if(_has_proba)
    def predict_log_proba(self, X):
        """log of predict_proba, computed stably (log-softmax)."""
        z = self._logits(X).astype(np.float64)
        z -= z.max(axis=1, keepdims=True)
        z -= np.log(np.exp(z).sum(axis=1, keepdims=True))
        return z

    # ------------------------------------------------------------------ files and pickling

    def save(self, path, input_scaling=None, dataset=""):
        """Write the model as the CLI's safetensors file: `mlp eval`, `mlp predict` and mlp.load read it.

        input_scaling=(offset, scale) records how X was made from 8-bit pixels, x = (pixel - offset) * scale,
        so that the CLI scales images the same way: (128, 1/255) for data from mlp.load_idx. The default is
        the model's own model_scaling_ when it came from mlp.load, else the identity (0, 1). dataset ("mnist",
        "fashion-mnist" or "") is recorded for the CLI's class names."""
        net, _ = self._params()
        if input_scaling is None:
            input_scaling = getattr(self, "model_scaling_", (0.0, 1.0))
        offset, scale = (float(v) for v in input_scaling)
        net.save(os.fspath(path), self._loss_cfg(), offset, scale, str(dataset))
        return self

    def __getstate__(self):
        state = super().__getstate__() if HAVE_SKLEARN else self.__dict__.copy()
        state = dict(state)
        net = state.pop("_net", None)
        if net is not None:
            state["_net_state"] = (net.widths, net.activation, net.max_batch,
                                   np.frombuffer(net, dtype=np.float32).copy(), net.get_state())
        return state

    def __setstate__(self, state):
        state = dict(state)
        saved = state.pop("_net_state", None)
        if HAVE_SKLEARN:
            super().__setstate__(state)
        else:
            self.__dict__.update(state)
        if saved is not None:
            widths, act, max_batch, params, opt = saved
            net = _mlp.Net(widths, act, max_batch)
            np.frombuffer(net, dtype=np.float32)[:] = params
            net.set_state(opt)
            net.set_threads(self._threads())
            self._net = net

    def _more_tags(self):
        return {"_xfail_checks": {}}


def load(path, **params):
    """An MLPClassifier holding the model in `path` (a safetensors file of `mlp train` or of save()).

    The classes are the file's class names (a model trained on a CSV or NPY file: integers when they all are,
    else strings), else 0..K-1 (class k is output k); the loss and its constants come from the file, other
    parameters from `params`. A model trained with a per-feature scaling (`mlp train --scale`, the default
    z-scores for non-image data) applies it to X itself (feature_scaling_: offsets and scales), so X is the raw
    features. The pixel scaling recorded in the file (input_offset, input_scale) is applied by the CLI to
    pictures; here X is given to the network as it is, so scale it the same way first
    (x = (pixel - input_offset) * input_scale): see the model_scaling_ attribute."""
    net, meta = _mlp.load(os.fspath(path), PREDICT_ROWS)
    loss = meta["loss"]
    alpha = loss["focal_alpha"]
    alpha = alpha[0] if len(set(alpha)) == 1 else tuple(alpha)
    widths = net.widths
    clf = MLPClassifier(hidden_layer_sizes=tuple(widths[1:-1]), activation=net.activation, loss=loss["kind"],
                        hinge_margin=loss["hinge_margin"], focal_gamma=loss["focal_gamma"], focal_alpha=alpha)
    clf.set_params(**params)
    net.set_threads(clf._threads())
    clf._net = net
    clf.classes_ = np.arange(widths[-1])
    names = meta.get("class_names")
    if names is not None:
        try:
            clf.classes_ = np.array([int(n) for n in names])
        except ValueError:
            clf.classes_ = np.array(names)
    if meta.get("feature_offset") is not None:
        clf.feature_scaling_ = (np.asarray(meta["feature_offset"], dtype=np.float32),
                                np.asarray(meta["feature_scale"], dtype=np.float32))
    clf.n_features_in_ = widths[0]
    clf.model_scaling_ = (meta["input_offset"], meta["input_scale"])
    clf.n_iter_ = 0
    clf.t_ = 0
    clf.loss_curve_ = []
    clf.validation_scores_ = None
    return clf
