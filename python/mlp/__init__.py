"""mlp: scikit-learn estimators over libmlp, the C library that trains multilayer perceptrons fast and
bit for bit repeatably.

    import mlp
    clf = mlp.MLPClassifier(hidden_layer_sizes=(128,), solver="sgd", random_state=1).fit(X, y)
    clf.predict(X_test); clf.save("model.safetensors")      # `mlp eval` / `mlp predict` read this file

See docs/PYTHON.md in the mlp repository.
"""
import os

import numpy as np

from . import _mlp
from ._classifier import MLPClassifier, load

__version__ = _mlp.version
__all__ = ["MLPClassifier", "load", "load_idx", "__version__"]


def load_idx(folder, split="train", offset=128.0, scale=1.0 / 255.0):
    """MNIST-style IDX data read and scaled by the library exactly as `mlp train` reads it:
    X float32 [n x rows*cols] = (pixel - offset) * scale, y int64 [n] labels.

    folder holds {train,t10k}-images-idx3-ubyte and {train,t10k}-labels-idx1-ubyte (raw or .gz); split is
    "train" or "t10k" (the test set). The defaults are the CLI's (128, 1/255)."""
    if split not in ("train", "t10k"):
        raise ValueError("split must be 'train' or 't10k', got %r" % (split,))
    paths = []
    for kind, dims in (("images", 3), ("labels", 1)):
        p = os.path.join(os.fspath(folder), "%s-%s-idx%d-ubyte" % (split, kind, dims))
        paths.append(p if os.path.exists(p) or not os.path.exists(p + ".gz") else p + ".gz")
    x, y, n, rows, cols = _mlp.load_idx(paths[0], paths[1], float(offset), float(scale))
    X = np.frombuffer(x, dtype=np.float32).reshape(n, rows * cols)
    return X, np.frombuffer(y, dtype=np.int32).astype(np.int64)
