#!/usr/bin/python3
"""torch_mlp.py - the same MLP training as `mlp train`, in PyTorch, for `make bench`'s side-by-side figures.

    /usr/bin/python3 bench/peers/torch_mlp.py --data data/mnist --hidden 128 --act gelu --loss hinge \
        --threads 2 --epochs 3

Float32 throughout: nn.Linear layers, torch.optim.SGD with mlp's batch, momentum and (coupled) weight decay,
the reference's pixel scaling x = (p - 128) / 255, weights ~ N(0, init_std^2), biases 0. An epoch is what mlp
times: a fresh permutation, every batch through forward, loss, backward and the SGD step, then the forward
pass of the whole test set (batches of 1000). Losses: ce (softmax cross-entropy) and hinge (the reference's
multiclass hinge, sum over k != y of max(0, margin - x_y + x_k)); --reduction sum (mlp's default) or mean.

Prints one line per epoch, `epoch N seconds S test_acc A`, after a line naming torch, its thread count and
the BLAS behind its products (what the Debian build links: OpenBLAS's core name when that is the library).
Needs Debian's python3-torch (apt-get install python3-torch); not part of CI.
"""
import argparse
import ctypes
import gzip
import os
import struct
import sys
import time


def read_idx(path):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            opener = gzip.open if p.endswith(".gz") else open
            with opener(p, "rb") as f:
                data = f.read()
            magic, = struct.unpack(">I", data[:4])
            ndim = magic & 0xFF
            dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
            return dims, data[4 + 4 * ndim:]
    sys.exit("torch_mlp: cannot find %s" % path)


def load(torch, folder, prefix):
    (n, rows, cols), pix = read_idx(os.path.join(folder, prefix + "-images-idx3-ubyte"))
    _, lab = read_idx(os.path.join(folder, prefix + "-labels-idx1-ubyte"))
    x = torch.frombuffer(bytearray(pix), dtype=torch.uint8).reshape(n, rows * cols).float()
    x = (x - 128.0) * (1.0 / 255.0)
    y = torch.frombuffer(bytearray(lab), dtype=torch.uint8).long()
    return x.contiguous(), y


def blas_name():
    """The BLAS library torch's products go to, and OpenBLAS's kernel (core) name when it is OpenBLAS."""
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                base = os.path.basename(path)
                if base.startswith(("libblas", "libopenblas", "libmkl", "libblis")):
                    libs.add(path)
    except OSError:
        pass
    names = []
    for path in sorted(libs):
        desc = os.path.basename(path)
        try:
            lib = ctypes.CDLL(path)
            if hasattr(lib, "openblas_get_corename"):
                lib.openblas_get_corename.restype = ctypes.c_char_p
                desc += " (OpenBLAS, kernel %s)" % lib.openblas_get_corename().decode()
        except OSError:
            pass
        names.append(desc)
    return ", ".join(names) if names else "unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data/mnist")
    ap.add_argument("--hidden", default="128")
    ap.add_argument("--act", default="gelu", choices=["relu", "sigmoid", "tanh", "selu", "gelu"])
    ap.add_argument("--loss", default="hinge", choices=["ce", "hinge"])
    ap.add_argument("--reduction", default="sum", choices=["sum", "mean"])
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--wd", type=float, default=None)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--margin", type=float, default=5.0)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--init-std", type=float, default=0.01)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.lr is None:
        a.lr = 1e-5 if a.reduction == "sum" else 1e-3
    if a.wd is None:
        a.wd = 0.1 if a.reduction == "sum" else 1e-3

    import torch
    import torch.nn as nn

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr, ytr = load(torch, a.data, "train")
    xte, yte = load(torch, a.data, "t10k")
    widths = [xtr.shape[1]] + [int(h) for h in a.hidden.split(",") if h] + [10]
    acts = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "selu": nn.SELU,
            "gelu": lambda: nn.GELU(approximate="tanh")}
    layers = []
    for i in range(len(widths) - 1):
        lin = nn.Linear(widths[i], widths[i + 1])
        with torch.no_grad():
            lin.weight.normal_(0.0, a.init_std)
            lin.bias.zero_()
        layers.append(lin)
        if i < len(widths) - 2:
            layers.append(acts[a.act]())
    model = nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum, weight_decay=a.wd)
    ce = nn.CrossEntropyLoss(reduction=a.reduction)

    def loss_fn(out, y):
        if a.loss == "ce":
            return ce(out, y)
        m = a.margin - out.gather(1, y[:, None]) + out
        m = torch.relu(m).scatter(1, y[:, None], 0.0)
        e = m.sum(dim=1)
        return e.sum() if a.reduction == "sum" else e.mean()

    print("torch %s, %d threads, BLAS: %s" % (torch.__version__, torch.get_num_threads(), blas_name()), flush=True)
    n = xtr.shape[0]
    for epoch in range(1, a.epochs + 1):
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        model.train()
        for first in range(0, n, a.batch):
            idx = perm[first:first + a.batch]
            xb, yb = xtr[idx], ytr[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
        correct = 0
        with torch.no_grad():
            for first in range(0, xte.shape[0], 1000):
                out = model(xte[first:first + 1000])
                correct += int((out.argmax(dim=1) == yte[first:first + 1000]).sum())
        sec = time.perf_counter() - t0
        print("epoch %d seconds %.4f test_acc %.4f" % (epoch, sec, correct / xte.shape[0]), flush=True)


if __name__ == "__main__":
    main()
