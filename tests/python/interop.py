#!/usr/bin/env python3
"""interop.py - check that an mlp model file is plain safetensors that Python can use without mlp.

Reads each model.safetensors with the standard library only (struct, json, math): the 8-byte
little-endian header length, the JSON header, the raw little-endian float32 tensors fc1.weight
[out, in], fc1.bias [out], ... and the __metadata__ (activation, input scaling). Then, for each PGM
image, it computes the forward pass in double precision:

    x = (p - input_offset) * input_scale
    a = act(W1 x + b1), ..., logits = WL a + bL        (no activation after the last layer)

and compares it with `mlp predict --prepare whole --scores MODEL IMAGES...` (the raw scores of the
whole pictures): the same class (unless the two best scores are within the tolerance, when either is right) and every score within 1e-4 (absolute, plus 1e-4
relative; mlp computes in float32 and prints 6 significant digits).

usage: interop.py --mlp BIN --models M.safetensors... --images A.pgm...
Exit status 0 when everything agrees, 1 otherwise (each disagreement is printed).
"""
import json
import math
import struct
import subprocess
import sys

TOL = 1e-4

SELU_L = 1.0507009873554805
SELU_A = 1.6732632423543772


def act_fn(name):
    c = math.sqrt(2.0 / math.pi)
    table = {
        "relu": lambda u: u if u > 0 else 0.0,
        "sigmoid": lambda u: 1.0 / (1.0 + math.exp(-u)) if u >= 0 else math.exp(u) / (1.0 + math.exp(u)),
        "tanh": math.tanh,
        "selu": lambda u: SELU_L * u if u > 0 else SELU_L * SELU_A * math.expm1(u),
        "swish": lambda u: u / (1.0 + math.exp(-u)) if u >= 0 else u * math.exp(u) / (1.0 + math.exp(u)),
        "gelu": lambda u: 0.5 * u * (1.0 + math.tanh(c * (u + 0.044715 * u * u * u))),
    }
    if name not in table:
        raise ValueError("unknown activation %r" % name)
    return table[name]


def load_safetensors(path):
    """The tensors as (shape, flat list of floats), and the metadata dict."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise ValueError("%s: tensor %s has dtype %s, expected F32" % (path, name, info["dtype"]))
        begin, end = info["data_offsets"]
        count = (end - begin) // 4
        values = struct.unpack("<%df" % count, data[base + begin : base + end])
        expected = 1
        for d in info["shape"]:
            expected *= d
        if expected != count:
            raise ValueError("%s: tensor %s: shape %s but %d values" % (path, name, info["shape"], count))
        tensors[name] = (info["shape"], values)
    return tensors, meta


def forward(tensors, meta, pixels):
    act = act_fn(meta.get("activation", "relu"))
    offset = float(meta.get("input_offset", "128"))
    scale = float(meta.get("input_scale", repr(1.0 / 255.0)))
    # the C code scales in float32: (float)p - offset, times scale, rounded to float32
    f32 = lambda v: struct.unpack("<f", struct.pack("<f", v))[0]
    x = [f32(f32(p - offset) * scale) for p in pixels]
    layers = 1
    while "fc%d.weight" % (layers + 1) in tensors:
        layers += 1
    for l in range(1, layers + 1):
        (out_n, in_n), w = tensors["fc%d.weight" % l]
        _, b = tensors["fc%d.bias" % l]
        if in_n != len(x):
            raise ValueError("fc%d.weight takes %d inputs, got %d" % (l, in_n, len(x)))
        u = [b[j] + math.fsum(w[j * in_n + i] * x[i] for i in range(in_n)) for j in range(out_n)]
        x = [act(v) for v in u] if l < layers else u
    return x


def read_pgm(path):
    """Binary PGM (P5, maxval 255)."""
    with open(path, "rb") as f:
        data = f.read()
    fields, at = [], 0
    while len(fields) < 4:
        while data[at : at + 1].isspace():
            at += 1
        if data[at : at + 1] == b"#":
            at = data.index(b"\n", at)
            continue
        start = at
        while not data[at : at + 1].isspace():
            at += 1
        fields.append(data[start:at])
    if fields[0] != b"P5" or int(fields[3]) != 255:
        raise ValueError("%s: only binary 8-bit PGM (P5, maxval 255) is read here" % path)
    w, h = int(fields[1]), int(fields[2])
    return list(data[at + 1 : at + 1 + w * h])


def main(argv):
    args = {"--mlp": [], "--models": [], "--images": []}
    cur = None
    for a in argv[1:]:
        if a in args:
            cur = a
        elif cur is None:
            sys.exit("usage: interop.py --mlp BIN --models M... --images I...")
        else:
            args[cur].append(a)
    if len(args["--mlp"]) != 1 or not args["--models"] or not args["--images"]:
        sys.exit("usage: interop.py --mlp BIN --models M... --images I...")
    mlp, models, images = args["--mlp"][0], args["--models"], args["--images"]
    pixels = [read_pgm(p) for p in images]
    bad, worst = 0, 0.0
    for model in models:
        tensors, meta = load_safetensors(model)
        run = subprocess.run([mlp, "predict", "--prepare", "whole", "--scores", model] + images, capture_output=True, text=True)
        if run.returncode != 0:
            print("%s: mlp predict failed: %s" % (model, run.stderr.strip()))
            bad += 1
            continue
        lines = run.stdout.strip().split("\n")
        for image, px, line in zip(images, pixels, lines):
            name, rest = line.rsplit(": ", 1) if line.count(": ") == 1 else line.split(": ", 1)
            fields = rest.split()
            cls, scores = int(fields[0]), [float(s) for s in fields[1:11]]
            mine = forward(tensors, meta, px)
            top = max(range(len(mine)), key=lambda k: mine[k])
            for k, (a, b) in enumerate(zip(scores, mine)):
                diff = abs(a - b)
                worst = max(worst, diff / (1 + abs(b)))
                if diff > TOL * (1 + abs(b)):
                    print("%s %s: score %d is %.9g in mlp, %.9g in Python" % (model, image, k, a, b))
                    bad += 1
            if cls != top and mine[top] - mine[cls] > TOL * (1 + abs(mine[top])):
                print("%s %s: mlp says class %d, Python %d" % (model, image, cls, top))
                bad += 1
    if bad:
        print("interop: %d disagreements" % bad)
        return 1
    print("interop: %d models x %d images agree (largest relative score difference %.2g)" % (len(models), len(images), worst))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
