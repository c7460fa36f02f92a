#!/usr/bin/env python3
"""test_sklearn.py - scikit-learn's own estimator checks on mlp.MLPClassifier, and its use in sklearn tools.

check_estimator runs every check of the installed scikit-learn (fitting on tiny, degenerate, read-only,
string-labelled, reordered and subsetted data, pickling, cloning, ...). The expected failures are listed in
MLPClassifier._more_tags()["_xfail_checks"] with their reasons (docs/PYTHON.md); every other check must pass.
Skipped (exit 0 with a message) when scikit-learn is not installed.
"""
import sys
import unittest
import warnings

import numpy as np

import mlp

try:
    from sklearn.model_selection import GridSearchCV, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.utils.estimator_checks import check_estimator
except ImportError:
    print("skipped: scikit-learn is not installed")
    sys.exit(0)


class EstimatorChecks(unittest.TestCase):
    def test_check_estimator(self):
        failed, xfailed, skipped, passed = [], [], [], 0
        xfail = mlp.MLPClassifier()._more_tags().get("_xfail_checks", {})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for est, check in check_estimator(mlp.MLPClassifier(), generate_only=True):
                name = getattr(check, "func", check).__name__
                try:
                    check(est)
                    passed += 1
                except unittest.SkipTest as e:
                    skipped.append("%s (%s)" % (name, e))
                except Exception as e:  # noqa: BLE001 - every check's failure is reported
                    if name in xfail:
                        xfailed.append(name)
                    else:
                        failed.append("%s: %s: %s" % (name, type(e).__name__, str(e).splitlines()[0] if str(e) else ""))
        print("check_estimator: %d checks passed, %d expected failures %s, %d skipped by scikit-learn %s"
              % (passed, len(xfailed), sorted(set(xfailed)), len(skipped), skipped))
        self.assertEqual(failed, [], "\n".join(failed))
        self.assertGreater(passed, 30)

    def test_in_pipeline_and_grid_search(self):
        rs = np.random.RandomState(0)
        X = rs.normal(size=(300, 6)) * 50 + 10
        y = (X[:, 0] + X[:, 1] > 20).astype(int)
        pipe = make_pipeline(StandardScaler(), mlp.MLPClassifier(hidden_layer_sizes=(16,), max_iter=100,
                                                                   learning_rate_init=0.05, random_state=0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = cross_val_score(pipe, X, y, cv=3)
            self.assertGreater(scores.min(), 0.9)
            grid = GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(4,), (16,)]}, cv=2).fit(X, y)
        self.assertIn(grid.best_params_["mlpclassifier__hidden_layer_sizes"], [(4,), (16,)])


if __name__ == "__main__":
    unittest.main(verbosity=2)
