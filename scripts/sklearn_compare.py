#!/usr/bin/python3
"""mlp against scikit-learn's MLPClassifier on scikit-learn's bundled datasets, through CSV files.

Each dataset (iris, wine, breast_cancer, digits) is split once, stratified, 75% / 25% (random_state 0) and written
as train.csv and test.csv (a header row, the features, a `label` column of class names). Then, for every seed,
`mlp train --data train.csv --test-data test.csv` and MLPClassifier train the same network the same way:
one hidden layer of --hidden ReLU units, cross-entropy (log-loss) on the batch mean, Adam with lr --lr and
torch/scikit-learn's betas and eps, no weight decay (alpha 0), batches of --batch, --epochs epochs without early
stopping, features z-scored with the training set's means and deviations (mlp's default --scale standard for CSV;
StandardScaler for scikit-learn). The initialisations differ (mlp: N(0, --init-std^2), scikit-learn: Glorot
uniform), so do the shuffles. Prints the test accuracies side by side, mean and standard deviation over the seeds.

    /usr/bin/python3 scripts/sklearn_compare.py [--mlp build/mlp] [--seeds 1,2,3] [--epochs 200]
"""
import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler


def write_csv(path, X, y, names, target_names):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(list(names) + ["label"])
        for row, label in zip(X, y):
            w.writerow(["%.17g" % v for v in row] + [target_names[label]])


def mlp_accuracy(mlp, folder, seed, a):
    out = os.path.join(folder, "run-%d" % seed)
    cmd = [mlp, "train", "--data", os.path.join(folder, "train.csv"), "--test-data", os.path.join(folder, "test.csv"),
           "--hidden", str(a.hidden), "--act", "relu", "--loss", "ce", "--grad-reduction", "mean", "--optimizer", "adam",
           "--lr", str(a.lr), "--wd", "0", "--batch", str(a.batch), "--epochs", str(a.epochs), "--init-std",
           str(a.init_std), "--seed", str(seed), "--threads", "1", "--out", out, "--force", "--quiet"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    with open(os.path.join(out, "metrics.csv")) as f:
        last = list(csv.DictReader(f))[-1]
    return float(last["test_acc"]), seconds


def sklearn_accuracy(Xtr, ytr, Xte, yte, seed, a):
    scaler = StandardScaler().fit(Xtr)
    clf = MLPClassifier(hidden_layer_sizes=(a.hidden,), activation="relu", solver="adam", alpha=0.0,
                        batch_size=a.batch, learning_rate_init=a.lr, max_iter=a.epochs, shuffle=True,
                        random_state=seed, tol=0.0, n_iter_no_change=a.epochs + 1, early_stopping=False)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(scaler.transform(Xtr), ytr)
    seconds = time.perf_counter() - t0
    return clf.score(scaler.transform(Xte), yte), seconds


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mlp", default="build/mlp")
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--init-std", type=float, default=0.1)
    p.add_argument("--datasets", default="iris,wine,breast_cancer,digits")
    a = p.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    print("one hidden layer of %d ReLU, cross-entropy, Adam lr %g, batch %d, %d epochs, z-scored features; "
          "test accuracy over seeds %s" % (a.hidden, a.lr, a.batch, a.epochs, a.seeds))
    print("%-14s %6s %6s %5s %5s   %-17s %-17s %9s %9s" % ("dataset", "train", "test", "feat", "class",
                                                           "mlp", "scikit-learn", "mlp s", "sklearn s"))
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.datasets.split(","):
            d = getattr(datasets, "load_" + name)()
            X, y = d.data, d.target
            Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
            folder = os.path.join(tmp, name)
            os.makedirs(folder)
            feature_names = getattr(d, "feature_names", ["f%d" % j for j in range(X.shape[1])])
            feature_names = ["f%d" % j for j in range(X.shape[1])] if len(feature_names) != X.shape[1] else feature_names
            target_names = [str(t) for t in getattr(d, "target_names", np.unique(y))]
            write_csv(os.path.join(folder, "train.csv"), Xtr, ytr, feature_names, target_names)
            write_csv(os.path.join(folder, "test.csv"), Xte, yte, feature_names, target_names)
            m = [mlp_accuracy(a.mlp, folder, s, a) for s in seeds]
            k = [sklearn_accuracy(Xtr, ytr, Xte, yte, s, a) for s in seeds]

            def fmt(v):
                accs = [x[0] for x in v]
                sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
                return "%.4f +- %.4f" % (statistics.mean(accs), sd)

            print("%-14s %6d %6d %5d %5d   %-17s %-17s %9.2f %9.2f" % (
                name, len(ytr), len(yte), X.shape[1], len(np.unique(y)), fmt(m), fmt(k),
                statistics.mean(x[1] for x in m), statistics.mean(x[1] for x in k)))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
