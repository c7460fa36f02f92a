#!/usr/bin/env python3
"""bench.py - mlp.MLPClassifier against scikit-learn's MLPClassifier: the same architecture, solver, batch size,
learning rate and epochs, the same float32 data; fit time per epoch and test accuracy side by side.

    PYTHONPATH=python /usr/bin/python3 python/bench.py --data data/mnist [--epochs 5] [--solvers adam,sgd]
    make python-bench              (make bench runs it too when scikit-learn is installed)

Datasets: MNIST (784-128-10, batch 100) and scikit-learn's bundled digits (8x8 images, 1797 samples: 64-128-10,
batch 100, 75/25 split), both with relu (scikit-learn has no gelu). Times are wall-clock seconds of the whole
fit divided by its epochs, best of --repeat runs; the load average is printed because two cores are shared:
compare the ratio, measured in the same run, rather than the absolute figures.
"""
import argparse
import os
import sys
import time
import warnings

import numpy as np

import mlp

try:
    import sklearn
    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier as SkMLP
except ImportError:
    print("bench.py: scikit-learn is not installed (apt-get install python3-sklearn); nothing to compare")
    sys.exit(0)


def fit_time(make, X, y, Xt, yt, epochs, repeat):
    best, acc = None, None
    for _ in range(repeat):
        clf = make()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            clf.fit(X, y)
            dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
        acc = clf.score(Xt, yt)
    return best / epochs, acc


def compare(name, X, y, Xt, yt, hidden, batch, epochs, lr, solver, repeat, threads):
    common = dict(hidden_layer_sizes=hidden, activation="relu", solver=solver, batch_size=batch, max_iter=epochs,
                  learning_rate_init=lr, alpha=1e-4, momentum=0.9, shuffle=True, tol=0.0,
                  n_iter_no_change=epochs + 1, random_state=1)
    sk = lambda: SkMLP(nesterovs_momentum=False, **common)  # noqa: E731
    ours = lambda: mlp.MLPClassifier(n_threads=threads, **common)  # noqa: E731
    t_sk, a_sk = fit_time(sk, X, y, Xt, yt, epochs, repeat)
    t_mlp, a_mlp = fit_time(ours, X, y, Xt, yt, epochs, repeat)
    arch = "-".join(str(w) for w in (X.shape[1],) + tuple(hidden) + (len(np.unique(y)),))
    print("%-8s %-12s %-5s %5d %6d | %10.4f %8.4f | %10.4f %8.4f | %7.1fx"
          % (name, arch, solver, batch, epochs, t_sk, a_sk, t_mlp, a_mlp, t_sk / t_mlp))
    return t_sk / t_mlp, a_sk, a_mlp


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="data/mnist", help="MNIST folder (IDX files)")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--solvers", default="adam,sgd", help="comma-separated: adam (the issue's setting), sgd")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each fit (the fastest counts)")
    ap.add_argument("--threads", type=int, default=None, help="mlp's threads (default: every CPU)")
    args = ap.parse_args()
    print("mlp %s (kernels: %s) vs scikit-learn %s, numpy %s; %d CPUs, load average %.2f at start"
          % (mlp.__version__, mlp._mlp.Net((2, 2), "relu").kernels, sklearn.__version__, np.__version__,
             mlp._classifier._cpu_count(), os.getloadavg()[0]))
    print("seconds per epoch (whole fit / epochs) and test accuracy; relu, alpha 1e-4; adam lr 1e-3, sgd lr 0.05 "
          "momentum 0.9 (no Nesterov)")
    print("%-8s %-12s %-5s %5s %6s | %10s %8s | %10s %8s | %8s"
          % ("data", "arch", "solv", "batch", "epochs", "sklearn s", "acc", "mlp s", "acc", "speedup"))
    X, y = mlp.load_idx(args.data, "train")
    Xt, yt = mlp.load_idx(args.data, "t10k")
    solvers = args.solvers.split(",")
    lrs = {"adam": 1e-3, "sgd": 0.05}
    for solver in solvers:
        compare("mnist", X, y, Xt, yt, (128,), 100, args.epochs, lrs[solver], solver, args.repeat, args.threads)
    d = load_digits()
    Xd = (d.data / 16.0).astype(np.float32)
    rs = np.random.RandomState(0)
    perm = rs.permutation(len(Xd))
    cut = len(Xd) * 3 // 4
    tr, te = perm[:cut], perm[cut:]
    for solver in solvers:
        compare("digits", np.ascontiguousarray(Xd[tr]), d.target[tr], Xd[te], d.target[te], (128,), 100,
                max(args.epochs, 50), lrs[solver], solver, max(args.repeat, 3), args.threads)
    print("load average %.2f at the end" % os.getloadavg()[0])


if __name__ == "__main__":
    main()
