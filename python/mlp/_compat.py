"""scikit-learn when it is installed, small stand-ins otherwise.

With scikit-learn the estimators inherit BaseEstimator and ClassifierMixin (get_params, set_params, clone,
pipelines, score) and validate their input with its own check_array, so they behave like its estimators.
Without it, the stand-ins below give get_params/set_params/score and the same input rules: 2-D, finite,
numeric, at least one row.
"""
import inspect
import warnings

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.exceptions import ConvergenceWarning, NotFittedError
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, column_or_1d

    HAVE_SKLEARN = True
except ImportError:  # pragma: no cover - exercised by the no-scikit-learn test
    HAVE_SKLEARN = False

    class NotFittedError(ValueError, AttributeError):
        """The estimator is used before fit."""

    class ConvergenceWarning(UserWarning):
        """max_iter was reached before the optimization converged."""

    class BaseEstimator:
        """get_params / set_params from the __init__ signature, as scikit-learn does."""

        @classmethod
        def _get_param_names(cls):
            sig = inspect.signature(cls.__init__)
            return sorted(p.name for p in sig.parameters.values() if p.name != "self" and p.kind != p.VAR_KEYWORD)

        def get_params(self, deep=True):
            return {k: getattr(self, k) for k in self._get_param_names()}

        def set_params(self, **params):
            valid = self._get_param_names()
            for k, v in params.items():
                if k not in valid:
                    raise ValueError("invalid parameter %r for estimator %s; valid: %s" % (k, type(self).__name__, valid))
                setattr(self, k, v)
            return self

        def __repr__(self):
            args = ", ".join("%s=%r" % kv for kv in self.get_params().items())
            return "%s(%s)" % (type(self).__name__, args)

    class ClassifierMixin:
        _estimator_type = "classifier"

        def score(self, X, y, sample_weight=None):
            y = np.asarray(y)
            pred = self.predict(X)
            if sample_weight is None:
                return float(np.mean(pred == y))
            w = np.asarray(sample_weight, dtype=np.float64)
            return float(np.sum(w * (pred == y)) / np.sum(w))

    def check_random_state(seed):
        if seed is None or seed is np.random:
            return np.random.mtrand._rand
        if isinstance(seed, (int, np.integer)):
            return np.random.RandomState(seed)
        if isinstance(seed, np.random.RandomState):
            return seed
        raise ValueError("%r cannot be used to seed a numpy.random.RandomState instance" % (seed,))

    def column_or_1d(y, warn=False):
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            if warn:
                warnings.warn("A column-vector y was passed when a 1d array was expected.", UserWarning)
            return y.ravel()
        if y.ndim == 1:
            return y
        raise ValueError("y should be a 1d array, got an array of shape %s instead." % (y.shape,))

    def check_classification_targets(y):
        if y.dtype.kind == "f" and np.any(y != np.round(y)):
            raise ValueError("Unknown label type: continuous values; a classifier needs class labels")

    def check_is_fitted(estimator, attributes=None):
        if not hasattr(estimator, "classes_"):
            raise NotFittedError("This %s instance is not fitted yet. Call 'fit' with appropriate arguments "
                                 "before using this estimator." % type(estimator).__name__)

    def train_test_split(X, y, random_state=None, test_size=0.1, stratify=None):
        rs = check_random_state(random_state)
        n = X.shape[0]
        n_test = max(1, int(np.ceil(test_size * n)))
        perm = rs.permutation(n)
        test, train = perm[:n_test], perm[n_test:]
        return X[train], X[test], y[train], y[test]


def check_X(estimator, X, reset):
    """X as C-contiguous float32 (no copy when it already is), finite, 2-D, non-empty; n_features_in_ set
    (reset) or checked."""
    if HAVE_SKLEARN:
        return estimator._validate_data(X, reset=reset, dtype=np.float32, order="C", accept_sparse=False)
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        if X.dtype.kind == "c":
            raise ValueError("Complex data not supported")
        X = X.astype(np.float64)
    X = np.ascontiguousarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise ValueError("Expected 2D array, got %dD array instead. Reshape your data." % X.ndim)
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError("Found array with shape %s: at least one sample and one feature are required." % (X.shape,))
    if not np.all(np.isfinite(X)):
        raise ValueError("Input contains NaN or infinity (or a value too large for float32).")
    if reset:
        estimator.n_features_in_ = X.shape[1]
    elif X.shape[1] != estimator.n_features_in_:
        raise ValueError("X has %d features, but %s is expecting %d features as input."
                         % (X.shape[1], type(estimator).__name__, estimator.n_features_in_))
    return X


def check_X_y(estimator, X, y, reset):
    if y is None:
        raise ValueError("%s requires y to be passed, but the target y is None" % type(estimator).__name__)
    if HAVE_SKLEARN:
        X, y = estimator._validate_data(X, y, reset=reset, dtype=np.float32, order="C", accept_sparse=False,
                                        multi_output=False)
        return X, y
    X = check_X(estimator, X, reset)
    y = column_or_1d(y, warn=True)
    if y.shape[0] != X.shape[0]:
        raise ValueError("Found input variables with inconsistent numbers of samples: [%d, %d]" % (X.shape[0], y.shape[0]))
    return X, y
