#!/usr/bin/env python3
"""test_estimator.py - mlp.MLPClassifier on its own: what it computes, how it fails, what it keeps.

Run: PYTHONPATH=python /usr/bin/python3 tests/python/test_estimator.py   (make python first)
Every test checks values: logits recomputed with numpy from coefs_/intercepts_, bitwise equality across
thread counts and input layouts, the exact messages of the library's errors, the state after Ctrl-C.
"""
import io
import os
import pickle
import signal
import sys
import tempfile
import threading
import time
import tracemalloc
import unittest
import warnings

import numpy as np

import mlp

try:
    import sklearn  # noqa: F401

    HAVE_SKLEARN = True
except ImportError:
    HAVE_SKLEARN = False

GELU_C = np.sqrt(2.0 / np.pi)


def gelu(u):
    return 0.5 * u * (1.0 + np.tanh(GELU_C * (u + 0.044715 * u ** 3)))


def blobs(n=300, d=8, k=3, seed=0, spread=1.0):
    """k Gaussian clusters in d dimensions, labels 0..k-1."""
    rs = np.random.RandomState(seed)
    centers = rs.normal(0, 4, size=(k, d))
    y = rs.randint(0, k, size=n)
    X = centers[y] + rs.normal(0, spread, size=(n, d))
    return X.astype(np.float32), y


def quiet_fit(clf, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return clf.fit(X, y)


class Basics(unittest.TestCase):
    def test_learns_blobs_and_labels_of_any_kind(self):
        X, y = blobs()
        for labels in (np.array([3, 7, 11]), np.array(["cat", "dog", "emu"]), np.array([-1.0, 0.0, 2.0])):
            clf = quiet_fit(mlp.MLPClassifier(hidden_layer_sizes=(16,), max_iter=100, random_state=0,
                                              learning_rate_init=0.05), X, labels[y])
            np.testing.assert_array_equal(clf.classes_, labels)
            pred = clf.predict(X)
            self.assertEqual(pred.dtype, labels.dtype)
            self.assertGreater(np.mean(pred == labels[y]), 0.95)
            self.assertEqual(clf.n_features_in_, 8)
            self.assertEqual(clf.n_iter_, len(clf.loss_curve_))
            self.assertLess(clf.loss_curve_[-1], clf.loss_curve_[0])

    def test_logits_are_the_forward_pass_of_coefs(self):
        X, y = blobs(n=120, d=5, k=4)
        clf = quiet_fit(mlp.MLPClassifier(hidden_layer_sizes=(7, 6), max_iter=5, random_state=3), X, y)
        self.assertEqual([c.shape for c in clf.coefs_], [(5, 7), (7, 6), (6, 4)])
        self.assertEqual([b.shape for b in clf.intercepts_], [(7,), (6,), (4,)])
        a = X.astype(np.float64)
        for i, (W, b) in enumerate(zip(clf.coefs_, clf.intercepts_)):
            a = a @ W.astype(np.float64) + b
            if i < len(clf.coefs_) - 1:
                a = gelu(a)
        logits = clf.decision_logits(X)
        np.testing.assert_allclose(logits, a, rtol=1e-5, atol=1e-5)
        p = clf.predict_proba(X)
        e = np.exp(a - a.max(axis=1, keepdims=True))
        np.testing.assert_allclose(p, e / e.sum(axis=1, keepdims=True), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
        np.testing.assert_allclose(clf.predict_log_proba(X), np.log(p), rtol=1e-6, atol=1e-9)
        np.testing.assert_array_equal(clf.predict(X), np.argmax(a, axis=1))

    def test_coefs_are_views_of_the_model(self):
        X, y = blobs(n=60)
        clf = quiet_fit(mlp.MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=1), X, y)
        before = clf.decision_logits(X)
        clf.intercepts_[-1][0] += 1.0  # writes the C parameter block
        after = clf.decision_logits(X)
        np.testing.assert_allclose(after[:, 0], before[:, 0] + 1.0, rtol=1e-6, atol=1e-5)
        np.testing.assert_array_equal(after[:, 1:], before[:, 1:])

    def test_probabilities_only_for_losses_that_define_them(self):
        X, y = blobs(n=90)
        X = (X - X.mean(axis=0)) / X.std(axis=0)
        for loss, has in (("ce", True), ("focal", True), ("hinge", False), ("mse", False)):
            clf = quiet_fit(mlp.MLPClassifier(hidden_layer_sizes=(8,), loss=loss, max_iter=200, random_state=0, focal_alpha=1.0,
                                              learning_rate_init=0.02), X, y)
            self.assertEqual(hasattr(clf, "predict_proba"), has, loss)
            self.assertEqual(hasattr(clf, "predict_log_proba"), has, loss)
            self.assertGreater(clf.score(X, y), 0.9, loss)


class Optimizers(unittest.TestCase):
    def test_every_solver_and_schedule_learns_and_dropout_is_repeatable(self):
        X, y = blobs(n=400, k=4, spread=2.0)
        X = (X - X.mean(axis=0)) / X.std(axis=0)
        for params in ({"solver": "adam"}, {"solver": "adamw", "alpha": 1e-3}, {"solver": "sgd", "learning_rate_init": 0.05},
                       {"solver": "sgd", "nesterovs_momentum": False, "learning_rate_init": 0.05},
                       {"lr_schedule": "cosine", "warmup_epochs": 5, "learning_rate_init": 0.01},
                       {"lr_schedule": "step", "step_epochs": 20, "step_gamma": 0.5, "learning_rate_init": 0.01},
                       {"dropout": 0.2, "learning_rate_init": 0.01}):
            a = quiet_fit(mlp.MLPClassifier(hidden_layer_sizes=(32,), max_iter=60, random_state=4, **params), X, y)
            self.assertGreater(a.score(X, y), 0.9, params)
            b = quiet_fit(mlp.MLPClassifier(hidden_layer_sizes=(32,), max_iter=60, random_state=4, n_threads=1,
                                            **params), X, y)
            np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0], str(params))
        # solvers differ
        c = [quiet_fit(mlp.MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=1, solver=s), X, y).coefs_[0]
             for s in ("adam", "sgd")]
        self.assertFalse(np.array_equal(c[0], c[1]))


class Repeatability(unittest.TestCase):
    def test_same_seed_same_bits_whatever_threads_and_layout(self):
        X, y = blobs(n=500, d=20, k=5)
        ref = None
        for threads, Xin in ((1, X), (2, X), (3, X.astype(np.float64)), (2, np.asfortranarray(X))):
            clf = quiet_fit(mlp.MLPClassifier(hidden_layer_sizes=(32,), max_iter=4, batch_size=50, random_state=7,
                                              n_threads=threads), Xin, y)
            params = np.concatenate([c.ravel() for c in clf.coefs_] + clf.intercepts_)
            if ref is None:
                ref = params
            else:
                np.testing.assert_array_equal(params, ref, "threads %d" % threads)
        other = quiet_fit(mlp.MLPClassifier(hidden_layer_sizes=(32,), max_iter=4, batch_size=50, random_state=8), X, y)
        self.assertFalse(np.array_equal(other.coefs_[0], quiet_fit(
            mlp.MLPClassifier(hidden_layer_sizes=(32,), max_iter=4, batch_size=50, random_state=7), X, y).coefs_[0]))

    def test_float32_c_input_is_not_copied(self):
        X, y = blobs(n=20000, d=100, k=3)
        clf = mlp.MLPClassifier(hidden_layer_sizes=(8,), max_iter=1, batch_size=100, random_state=0)
        tracemalloc.start()
        quiet_fit(clf, X, y)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        # X is 8 MB; the labels and their encoding take a few hundred kB
        self.assertLess(peak, X.nbytes / 4, "fit copied X (peak %d bytes of Python allocations)" % peak)
        tracemalloc.start()
        quiet_fit(clf, X.astype(np.float64), y)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        self.assertGreaterEqual(peak, X.nbytes)  # converted once, to float32


class Persistence(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def test_pickle_round_trip_predicts_alike_and_continues(self):
        X, y = blobs(n=200)
        labels = np.array(["a", "b", "c"])[y]
        clf = quiet_fit(mlp.MLPClassifier(hidden_layer_sizes=(10,), max_iter=3, random_state=2), X, labels)
        clone = pickle.loads(pickle.dumps(clf))
        np.testing.assert_array_equal(clone.decision_logits(X), clf.decision_logits(X))
        np.testing.assert_array_equal(clone.classes_, clf.classes_)
        self.assertEqual(clone.loss_curve_, clf.loss_curve_)
        # the optimizer state travels too: one more epoch on each gives the same bits
        clf.partial_fit(X, labels)
        clone.partial_fit(X, labels)
        np.testing.assert_array_equal(clone.coefs_[0], clf.coefs_[0])

    def test_save_and_load(self):
        X, y = blobs(n=200, d=6, k=4)
        clf = quiet_fit(mlp.MLPClassifier(hidden_layer_sizes=(9, 5), activation="tanh", loss="hinge",
                                          hinge_margin=2.0, max_iter=3, random_state=2), X, y)
        path = os.path.join(self.tmp.name, "m.safetensors")
        clf.save(path)
        back = mlp.load(path)
        self.assertEqual(back.hidden_layer_sizes, (9, 5))
        self.assertEqual(back.activation, "tanh")
        self.assertEqual(back.loss, "hinge")
        self.assertEqual(back.hinge_margin, 2.0)
        np.testing.assert_array_equal(back.decision_logits(X), clf.decision_logits(X))
        for a, b in zip(back.coefs_ + back.intercepts_, clf.coefs_ + clf.intercepts_):
            np.testing.assert_array_equal(a, b)

    def test_file_errors_are_oserror_and_bad_files_valueerror(self):
        with self.assertRaises(OSError) as cm:
            mlp.load(os.path.join(self.tmp.name, "missing.safetensors"))
        self.assertIn("missing.safetensors", str(cm.exception))
        bad = os.path.join(self.tmp.name, "bad.safetensors")
        with open(bad, "wb") as f:
            f.write(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
        with self.assertRaises(ValueError) as cm:
            mlp.load(bad)
        self.assertIn("bad.safetensors", str(cm.exception))
        X, y = blobs(n=50)
        clf = quiet_fit(mlp.MLPClassifier(hidden_layer_sizes=(4,), max_iter=1), X, y)
        with self.assertRaises(OSError):
            clf.save(os.path.join(self.tmp.name, "no", "such", "dir", "m.safetensors"))


class Errors(unittest.TestCase):
    def test_bad_arguments_are_valueerror_with_the_reason(self):
        X, y = blobs(n=50)
        cases = [({"activation": "softplus"}, "activation"), ({"loss": "nll"}, "loss"),
                 ({"hidden_layer_sizes": (0,)}, "hidden_layer_sizes"), ({"momentum": 1.0}, "momentum"),
                 ({"learning_rate_init": -1.0}, "learning_rate_init"), ({"batch_size": 0}, "batch_size"),
                 ({"hidden_layer_sizes": (2,) * 16}, "hidden layers"), ({"solver": "lbfgs"}, "solver"),
                 ({"focal_alpha": (0.1, 0.2)}, "focal_alpha"), ({"learning_rate": "adaptive"}, "learning_rate"),
                 ({"lr_schedule": "linear"}, "lr_schedule"), ({"beta_1": 1.0}, "beta"), ({"dropout": 1.0}, "dropout"),
                 ({"solver": "adamw", "warmup_epochs": 500}, "warm")]
        for params, word in cases:
            if "focal_alpha" in params:
                params = dict(params, loss="focal")
            with self.assertRaises(ValueError, msg=str(params)) as cm:
                mlp.MLPClassifier(**params).fit(X, y)
            self.assertIn(word, str(cm.exception))

    def test_any_number_of_classes(self):
        # no class limit in the library: 100 classes (a fixed limit of 64 once refused them), focal alphas for each
        X = np.random.RandomState(0).normal(size=(200, 3)).astype(np.float32)
        clf = quiet_fit(mlp.MLPClassifier(max_iter=1, loss="focal", focal_alpha=0.2), X, np.arange(200) % 100)
        self.assertEqual(len(clf.classes_), 100)
        self.assertEqual(clf.predict_proba(X).shape, (200, 100))

    def test_divergence_is_a_valueerror_from_the_library(self):
        X, y = blobs(n=100)
        with self.assertRaises(ValueError) as cm:
            quiet_fit(mlp.MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=1e30, max_iter=5,
                                        random_state=0), X * 1e6, y)
        self.assertIn("diverged", str(cm.exception))

    def test_unfitted_and_wrong_width(self):
        X, y = blobs(n=50)
        with self.assertRaises(AttributeError):  # NotFittedError is an AttributeError and a ValueError
            mlp.MLPClassifier().predict(X)
        clf = quiet_fit(mlp.MLPClassifier(hidden_layer_sizes=(4,), max_iter=1), X, y)
        with self.assertRaises(ValueError) as cm:
            clf.predict(X[:, :5])
        self.assertIn("features", str(cm.exception))


class Interrupt(unittest.TestCase):
    def test_ctrl_c_stops_fit_and_leaves_a_usable_model(self):
        X, y = blobs(n=60000, d=100, k=10, spread=3.0)
        clf = mlp.MLPClassifier(hidden_layer_sizes=(256,), max_iter=500, batch_size=10, random_state=0)
        timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
        timer.start()
        t0 = time.time()
        with self.assertRaises(KeyboardInterrupt):
            quiet_fit(clf, X, y)
        timer.join()
        self.assertLess(time.time() - t0, 30)
        self.assertLess(clf.n_iter_, 500)
        self.assertEqual(len(clf.loss_curve_), clf.n_iter_)
        for c in clf.coefs_ + clf.intercepts_:
            self.assertTrue(np.all(np.isfinite(c)))
        self.assertGreater(np.abs(clf.coefs_[0]).sum(), 0)
        pred = clf.predict(X[:100])
        self.assertEqual(pred.shape, (100,))
        # the handler is Python's own again
        self.assertIs(signal.getsignal(signal.SIGINT), signal.default_int_handler)


class Stopping(unittest.TestCase):
    def test_early_stopping_keeps_the_best_validation_model(self):
        X, y = blobs(n=400, k=4, spread=2.5)
        clf = quiet_fit(mlp.MLPClassifier(hidden_layer_sizes=(32,), early_stopping=True, n_iter_no_change=3,
                                          max_iter=300, random_state=0, learning_rate_init=0.05), X, y)
        self.assertLess(clf.n_iter_, 300)
        self.assertEqual(len(clf.validation_scores_), clf.n_iter_)
        self.assertEqual(clf.best_validation_score_, max(clf.validation_scores_))
        self.assertGreater(clf.best_validation_score_, 0.8)

    def test_tol_stops_on_a_flat_training_loss(self):
        X, y = blobs(n=200, k=2)
        clf = quiet_fit(mlp.MLPClassifier(hidden_layer_sizes=(8,), tol=10.0, n_iter_no_change=2, max_iter=100,
                                          random_state=0), X, y)
        # as scikit-learn: epoch 1 sets best_loss_, then no epoch improves it by tol; the count of such epochs
        # must exceed n_iter_no_change: 3 more epochs
        self.assertEqual(clf.n_iter_, 4)

    def test_partial_fit_continues_and_checks_classes(self):
        X, y = blobs(n=300)
        clf = mlp.MLPClassifier(hidden_layer_sizes=(16,), random_state=0, learning_rate_init=0.05)
        with self.assertRaises(ValueError):
            clf.partial_fit(X, y)
        for _ in range(20):
            clf.partial_fit(X, y, classes=[0, 1, 2])
        self.assertEqual(clf.n_iter_, 20)
        self.assertGreater(clf.score(X, y), 0.95)
        with self.assertRaises(ValueError):
            clf.partial_fit(X, y + 5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
