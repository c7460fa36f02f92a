#!/usr/bin/env python3
"""test_cli.py - mlp.MLPClassifier and the `mlp` command agree, on MNIST.

  - the same settings give the same model: `mlp train` and MLPClassifier.fit (solver sgd, init_std, seed,
    alpha = wd * batch) produce bitwise the same parameters, so the same test accuracy;
  - a model trained in Python and saved is evaluated by `mlp eval` with the accuracy and the confusion
    matrix that Python's predictions give, and `mlp predict` on images gives Python's classes and logits;
  - a model trained by the CLI and loaded in Python (mlp.load) predicts what `mlp eval` counts.
Needs $MLP_BIN (the mlp binary) and $MLP_DATA (the MNIST folder); skipped (exit 0) without them.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
import warnings

import numpy as np

import mlp

BIN = os.environ.get("MLP_BIN", "build/mlp")
DATA = os.environ.get("MLP_DATA", "data/mnist")
if not os.path.exists(BIN) or not os.path.exists(os.path.join(DATA, "train-labels-idx1-ubyte")) and \
        not os.path.exists(os.path.join(DATA, "train-labels-idx1-ubyte.gz")):
    print("skipped: needs $MLP_BIN and MNIST in $MLP_DATA")
    sys.exit(0)

X_train, y_train = mlp.load_idx(DATA, "train")
X_test, y_test = mlp.load_idx(DATA, "t10k")


def run(*args):
    r = subprocess.run([BIN] + [str(a) for a in args], capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("mlp %s failed (%d): %s" % (" ".join(map(str, args)), r.returncode, r.stderr))
    return r.stdout


def parse_eval(out):
    """(correct count, confusion matrix) from `mlp eval`'s report."""
    correct = int(re.search(r"test accuracy [0-9.]+ \((\d+) of", out).group(1))
    rows = re.findall(r"^\s+(\d+)((?:\s+\d+){10})\s*$", out, re.M)
    conf = np.array([[int(v) for v in r[1].split()] for r in rows])
    return correct, conf


def confusion(y, pred, k=10):
    c = np.zeros((k, k), dtype=int)
    np.add.at(c, (y, pred), 1)
    return c


def write_pgm(path, x):
    """A test row (scaled like the CLI) back to 8-bit pixels, as a binary PGM."""
    pixels = np.rint(x * 255.0 + 128.0).astype(np.uint8).reshape(28, 28)
    with open(path, "wb") as f:
        f.write(b"P5\n28 28\n255\n" + pixels.tobytes())


class CrossChecks(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def same_model(self, name, cli_args, **params):
        """`mlp train` with cli_args and fit with params: the same parameters, bit for bit; returns both."""
        run_dir = os.path.join(self.tmp.name, name)
        run("train", "--data", DATA, "--epochs", 2, "--hidden", 64, "--act", "gelu", "--loss", "ce",
            "--grad-reduction", "mean", "--batch", 100, "--init-std", 0.01, "--seed", 3, "--quiet", "--out", run_dir,
            *cli_args)
        cli = mlp.load(os.path.join(run_dir, "model.safetensors"))
        clf = mlp.MLPClassifier(hidden_layer_sizes=(64,), activation="gelu", loss="ce", grad_reduction="mean",
                                batch_size=100, max_iter=2, init_std=0.01, random_state=3, tol=0.0, **params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.fit(X_train, y_train)
        for a, b in zip(clf.coefs_ + clf.intercepts_, cli.coefs_ + cli.intercepts_):
            np.testing.assert_array_equal(a, b)
        return clf, cli, run_dir

    def test_adam_and_nesterov_with_a_schedule_same_model_as_mlp_train(self):
        clf, _, _ = self.same_model("adam", ["--optimizer", "adam", "--lr", "2e-3", "--wd", "1e-4", "--beta1", 0.8,
                                             "--schedule", "cosine", "--warmup-epochs", 1],
                                    solver="adam", learning_rate_init=2e-3, alpha=1e-4 * 100, beta_1=0.8,
                                    lr_schedule="cosine", warmup_epochs=1)
        self.assertGreater(clf.score(X_test, y_test), 0.93)  # two epochs, the first a warm-up
        self.same_model("nesterov", ["--optimizer", "sgd", "--nesterov", "--lr", 0.02, "--wd", 0, "--momentum", 0.8],
                        solver="sgd", nesterovs_momentum=True, learning_rate_init=0.02, alpha=0.0, momentum=0.8)
        self.same_model("adamw", ["--optimizer", "adamw", "--lr", "1e-3", "--wd", 0.01],
                        solver="adamw", learning_rate_init=1e-3, alpha=0.01)

    def test_same_settings_same_model_as_mlp_train(self):
        clf, cli, run_dir = self.same_model("sgd", ["--lr", 0.05, "--wd", "1e-4", "--momentum", 0.9],
                                            solver="sgd", nesterovs_momentum=False, learning_rate_init=0.05,
                                            alpha=1e-4 * 100, momentum=0.9)
        acc = clf.score(X_test, y_test)
        correct, conf = parse_eval(run("eval", os.path.join(run_dir, "model.safetensors"), "--data", DATA))
        self.assertEqual(round(acc * len(y_test)), correct)
        self.assertGreater(acc, 0.95)
        # the CLI's model through Python: the confusion matrix of `mlp eval`
        np.testing.assert_array_equal(confusion(y_test, cli.predict(X_test)), conf)
        np.testing.assert_array_equal(cli.classes_, np.arange(10))
        self.assertEqual(cli.model_scaling_, (128.0, np.float32(1 / 255.0)))

    def test_csv_model_loaded_in_python_predicts_from_raw_features(self):
        # a CSV with string labels trained by the CLI (z-scored features kept in the model): mlp.load gives the
        # class names as classes_ and predicts from the raw features what `mlp predict` prints
        rng = np.random.RandomState(3)
        names = np.array(["ant", "bee", "cow"])
        y = np.arange(90) % 3
        X = np.c_[y * 4.0 + rng.normal(size=90), 100 - 30.0 * y + rng.normal(size=90) * 5, rng.normal(size=90)]
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "t.csv")
            with open(path, "w") as f:
                f.write("a,b,c,kind\n")
                for row, k in zip(X, y):
                    f.write("%.6f,%.6f,%.6f,%s\n" % (row[0], row[1], row[2], names[k]))
            run("train", "--data", path, "--hidden", 8, "--loss", "ce", "--optimizer", "adam", "--lr", 0.02,
                "--epochs", 30, "--batch", 10, "--out", os.path.join(tmp, "r"), "--quiet")
            lines = run("predict", os.path.join(tmp, "r", "model.safetensors"), path, "--json").splitlines()
            cli = [json.loads(line)["name"] for line in lines]
            clf = mlp.load(os.path.join(tmp, "r", "model.safetensors"))
            self.assertEqual(list(clf.classes_), ["ant", "bee", "cow"])
            raw = np.loadtxt(path, delimiter=",", skiprows=1, usecols=(0, 1, 2), dtype=np.float32)
            self.assertEqual(list(clf.predict(raw)), cli)
            self.assertGreater(np.mean(clf.predict(raw) == names[y]), 0.95)

    def test_python_model_through_mlp_eval_and_predict(self):
        clf = mlp.MLPClassifier(hidden_layer_sizes=(48, 24), activation="relu", loss="hinge", solver="sgd",
                                learning_rate_init=0.01, batch_size=64, max_iter=1, random_state=11)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.fit(X_train, y_train)
        path = os.path.join(self.tmp.name, "py.safetensors")
        clf.save(path, input_scaling=(128, 1 / 255.0), dataset="mnist")
        pred = clf.predict(X_test)
        correct, conf = parse_eval(run("eval", path, "--data", DATA))
        self.assertEqual(int(np.sum(pred == y_test)), correct)
        np.testing.assert_array_equal(confusion(y_test, pred), conf)
        self.assertGreater(correct, 9000)
        # mlp predict on pictures: the same classes, the same logits (printed with 6 digits)
        images = []
        for i in range(12):
            p = os.path.join(self.tmp.name, "t%d.pgm" % i)
            write_pgm(p, X_test[i])
            images.append(p)
        out = run("predict", path, *images, "--invert", "no", "--prepare", "whole", "--json").strip().splitlines()
        logits = clf.decision_logits(X_test[:12])
        self.assertEqual(len(out), 12)
        for i, line in enumerate(out):
            r = json.loads(line)
            self.assertEqual(int(r["class"]), pred[i], line)
            np.testing.assert_allclose(r["scores"], logits[i], rtol=1e-5, atol=1e-5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
