#!/usr/bin/python3
"""optim_torch.py - train the test's tiny network with torch.optim and print its final parameters.

usage: optim_torch.py CASE_FILE [NAME LR WD MOMENTUM NESTEROV]...   (one group of five per case)
CASE_FILE (written by tests/test_optim.c): "D H K N STEPS", then the parameters in mlp's layout
(fc1.weight [H x D], fc1.bias [H], fc2.weight [K x H], fc2.bias [K]: nn.Linear's), the inputs [N x D] and the
N labels, one number a line. The network is Linear(D,H) -> tanh -> Linear(H,K), the loss the mean softmax
cross-entropy; STEPS full-batch steps of torch.optim.SGD (momentum, nesterov, weight_decay), Adam
(weight_decay: coupled L2) or AdamW (decoupled), betas (0.9, 0.999), eps 1e-8, as mlp's defaults.
For each case, prints the final parameters in the same layout, one per line, with 9 significant digits.
"""
import sys

import torch


def main():
    path = sys.argv[1]
    args = sys.argv[2:]
    if not args or len(args) % 5:
        sys.exit(__doc__)
    for i in range(0, len(args), 5):
        run(path, args[i], float(args[i + 1]), float(args[i + 2]), float(args[i + 3]), args[i + 4] == "1")


def run(path, name, lr, wd, mom, nesterov):
    with open(path) as f:
        vals = f.read().split()
    D, H, K, N, steps = (int(v) for v in vals[:5])
    at = 5

    def take(n):
        nonlocal at
        out = [float(v) for v in vals[at:at + n]]
        at += n
        return out

    fc1, fc2 = torch.nn.Linear(D, H), torch.nn.Linear(H, K)
    with torch.no_grad():
        fc1.weight.copy_(torch.tensor(take(H * D)).reshape(H, D))
        fc1.bias.copy_(torch.tensor(take(H)))
        fc2.weight.copy_(torch.tensor(take(K * H)).reshape(K, H))
        fc2.bias.copy_(torch.tensor(take(K)))
    x = torch.tensor(take(N * D)).reshape(N, D)
    y = torch.tensor([int(v) for v in vals[at:at + N]])
    params = [fc1.weight, fc1.bias, fc2.weight, fc2.bias]
    if name == "sgd":
        opt = torch.optim.SGD(params, lr=lr, momentum=mom, weight_decay=wd, nesterov=nesterov)
    elif name == "adam":
        opt = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
    elif name == "adamw":
        opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
    else:
        sys.exit("unknown optimizer " + name)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(fc2(torch.tanh(fc1(x))), y)
        loss.backward()
        opt.step()
    for p in params:
        for v in p.detach().reshape(-1).tolist():
            print("%.9g" % v)


if __name__ == "__main__":
    main()
