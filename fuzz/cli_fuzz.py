#!/usr/bin/env python3
"""cli_fuzz.py - the real `mlp` binary against random command lines and random or mutated files.

Where the libFuzzer targets (fuzz/fuzz_*.c) hammer one parser in-process, this drives the whole tool the way a
user (or a script gone wrong) does: random subcommands and options with boundary and junk values, inputs that
are mutated models, checkpoints, config.json files, IDX data (raw and gzip), PNG/PGM/JPEG pictures, FIFOs,
folders and devices; some training runs are interrupted by SIGINT or SIGTERM at a random moment. Run it on a
sanitizer build (make SAN=1: AddressSanitizer + UndefinedBehaviorSanitizer). Every case must satisfy:
  - no sanitizer report and no crash (a signal other than the INT/TERM we sent);
  - no hang: each command ends within --timeout seconds;
  - exit status in {0, 1, 2, 130, 143} (130/143, or death by that signal before its handler is installed, only
    when we sent SIGINT/SIGTERM);
  - the output folder is never left half-written: no temporary file (*.tmp.*) and no lock file left behind,
    a usage error (2) creates nothing, a successful train leaves config.json, metrics.csv, the checkpoint and
    the model, and every model or checkpoint present is whole (`mlp info` reads the model).
A failing case is copied to OUT/failures/N (command, files, output) and the run exits 1. Only the standard
library is used. Usage: cli_fuzz.py --mlp build-san/mlp --seconds 75 [--seed N] [--out DIR]
"""
import argparse
import gzip
import os
import random
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import time

ALLOWED = {0, 1, 2}
SAN_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer", "SUMMARY: UndefinedBehavior",
             "AddressSanitizer:DEADLYSIGNAL")

JUNK = ["", " ", " 1", "1 ", "-1", "0", "1", "2", "3", "nan", "inf", "-inf", "1e999", "1e-999", "0x10", "1.5",
        "9999999999999999999999", "-0", "abc", "\n", "\t1", "1,2", ",", "1,,2", "none", "\u00e9", "\x01",
        "100000", "65536", "1048577", "4G", "1K", "0.5", "1e-5", "..", "/", "-", "--", "--help"]
NAMES = {"act": ["relu", "sigmoid", "tanh", "selu", "swish", "gelu"], "loss": ["mse", "ce", "hinge", "focal"],
         "dataset": ["mnist", "fashion-mnist"], "kernels": ["auto", "portable", "avx2", "avx512", "blas"],
         "grad-reduction": ["sum", "mean"], "optimizer": ["sgd", "adam", "adamw"],
         "schedule": ["constant", "step", "cosine"], "invert": ["auto", "yes", "no"],
         "prepare": ["mnist", "fashion-mnist", "whole"]}


def idx_images(n, rows, cols, rnd):
    return struct.pack(">IIII", 0x803, n, rows, cols) + bytes(rnd.randrange(256) for _ in range(n * rows * cols))


def idx_labels(n, k):
    return struct.pack(">II", 0x801, n) + bytes(i % k for i in range(n))


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def mutate(data, rnd):
    """Bit flips, byte edits, truncation, insertion, duplication of a slice, or an interesting integer."""
    b = bytearray(data)
    for _ in range(rnd.randint(1, 4)):
        op = rnd.randrange(7)
        if not b:
            b = bytearray(rnd.randbytes(rnd.randint(1, 16)) if hasattr(rnd, "randbytes") else b"\0")
        i = rnd.randrange(len(b))
        if op == 0:
            b[i] ^= 1 << rnd.randrange(8)
        elif op == 1:
            b[i] = rnd.choice([0, 0xff, 0x7f, 0x80, ord('"'), ord(','), ord('9'), ord('-'), ord('.')])
        elif op == 2:
            del b[rnd.randrange(len(b)):]
        elif op == 3:
            b[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 8)))
        elif op == 4:
            j = rnd.randrange(len(b))
            b[i:i] = b[min(i, j):max(i, j)][:4096]
        elif op == 5 and len(b) >= 8:
            v = rnd.choice([0, 1, 0x7fffffff, 0xffffffff, 0x80000000, 60000, 10, 28, 784])
            b[i:i + 4] = struct.pack(rnd.choice([">I", "<I"]), v)
        else:
            # edit a number inside a JSON header (safetensors, config.json)
            text = bytes(b)
            digits = [k for k in range(len(text)) if 48 <= text[k] <= 57]
            if digits:
                k = rnd.choice(digits)
                b[k:k + 1] = rnd.choice([b"0", b"9", b"99999999999", b"-1", b"1.5", b"1e9", b"4.0"])
    return bytes(b)


class Fuzzer:
    def __init__(self, args):
        self.mlp = os.path.abspath(args.mlp)
        self.timeout = args.timeout
        self.rnd = random.Random(args.seed)
        self.work = tempfile.mkdtemp(prefix="mlp-clifuzz-")
        self.out = os.path.abspath(args.out)
        os.makedirs(self.out, exist_ok=True)
        self.env = dict(os.environ)
        # leaks at exit() are not bugs of a command-line tool (the library's fuzz targets check leaks)
        self.env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=0:allocator_may_return_null=1"
        self.env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
        self.env["NO_COLOR"] = "1"
        self.env.pop("MLP_KERNELS", None)
        self.execs = 0
        self.failures = 0
        self.by_status = {}
        self.seeds()

    # ------------------------------------------------------------------ seed files
    def seeds(self):
        r = self.rnd
        self.data = os.path.join(self.work, "data")
        os.makedirs(self.data)
        write(os.path.join(self.data, "train-images-idx3-ubyte"), idx_images(120, 8, 8, r))
        write(os.path.join(self.data, "train-labels-idx1-ubyte"), idx_labels(120, 10))
        write(os.path.join(self.data, "t10k-images-idx3-ubyte.gz"), gzip.compress(idx_images(40, 8, 8, r)))
        write(os.path.join(self.data, "t10k-labels-idx1-ubyte.gz"), gzip.compress(idx_labels(40, 10)))
        run = os.path.join(self.work, "seedrun")
        p = subprocess.run([self.mlp, "train", "--data", self.data, "--out", run, "--hidden", "6", "--epochs", "2",
                            "--batch", "40", "--threads", "1", "--quiet"], env=self.env, capture_output=True,
                           timeout=300)
        if p.returncode != 0:
            sys.exit("cli_fuzz: the seed run failed: " + p.stderr.decode(errors="replace"))
        self.files = {}
        for name in ("model.safetensors", "checkpoint.safetensors", "config.json", "metrics.csv"):
            with open(os.path.join(run, name), "rb") as f:
                self.files[name] = f.read()
        for name in os.listdir(self.data):
            with open(os.path.join(self.data, name), "rb") as f:
                self.files[name] = f.read()
        here = os.path.dirname(os.path.abspath(__file__))
        self.pictures = []
        for sub in ("png", "pgm", "jpeg"):
            d = os.path.join(here, "corpus", sub)
            for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
                with open(os.path.join(d, name), "rb") as f:
                    self.pictures.append(f.read())
        self.pictures.append(b"P5 8 8 255\n" + bytes(range(0, 256, 4)))

    # ------------------------------------------------------------------ one case
    def value(self, name):
        r = self.rnd
        if name in NAMES and r.random() < 0.7:
            return r.choice(NAMES[name])
        return r.choice(JUNK)

    def model_file(self, case):
        r = self.rnd
        k = r.randrange(5)
        data = self.files["model.safetensors"]
        if k == 0:
            data = mutate(data, r)
        elif k == 1:
            data = gzip.compress(data)
        elif k == 2:
            data = data[:r.randrange(len(data))]
        path = os.path.join(case, "m.safetensors")
        write(path, data)
        special = r.random()
        if special < 0.05:
            return "/dev/null"
        if special < 0.08:
            fifo = os.path.join(case, "fifo.safetensors")
            os.mkfifo(fifo)
            return fifo
        if special < 0.10:
            return case
        return path

    def data_dir(self, case):
        """The tiny data set, one of its files mutated (or a FIFO, or images of another size)."""
        r = self.rnd
        d = os.path.join(case, "data")
        os.makedirs(d)
        names = sorted(n for n in self.files if "idx" in n)
        victim = r.choice(names) if r.random() < 0.6 else None
        for n in names:
            data = self.files[n]
            if n == victim:
                k = r.randrange(4)
                if k == 0:
                    raw = gzip.decompress(data) if n.endswith(".gz") else data
                    data = mutate(raw, r)
                    if n.endswith(".gz") and r.random() < 0.5:
                        data = gzip.compress(data)
                elif k == 1 and n.endswith(".gz"):
                    data = data + mutate(b"trailing", r)
                elif k == 2:
                    os.mkfifo(os.path.join(d, n))
                    continue
                else:
                    data = mutate(data, r)
            write(os.path.join(d, n), data)
        return d

    def run_folder(self, case):
        """A copy of the seed run with one file mutated, for --resume."""
        r = self.rnd
        d = os.path.join(case, "run")
        os.makedirs(d)
        victim = r.choice(["checkpoint.safetensors", "config.json", "metrics.csv", None])
        for n in ("checkpoint.safetensors", "config.json", "metrics.csv", "model.safetensors"):
            data = self.files[n]
            if n == "config.json":
                data = data.replace(self.files["config.json"].split(b'"data": "')[1].split(b'"')[0],
                                    self.data.encode())
            if n == victim:
                data = mutate(data, r)
            write(os.path.join(d, n), data)
        return d

    def options(self, pool, k):
        r = self.rnd
        out = []
        for _ in range(r.randint(0, k)):
            name = r.choice(pool)
            if name.startswith("!"):
                out.append("--" + name[1:])
            else:
                out += ["--" + name, self.value(name)] if r.random() < 0.8 else ["--" + name + "=" + self.value(name)]
        if r.random() < 0.05:
            out.append(r.choice(["--frobnicate", "-x", "extra", "--", "-"]))
        return out

    def make_case(self, case):
        r = self.rnd
        kind = r.choice(["train", "train", "resume", "eval", "eval", "predict", "info", "help", "report"])
        sig = None
        outdir = None
        if kind == "train":
            outdir = os.path.join(case, "out")
            argv = ["train", "--data", self.data_dir(case) if r.random() < 0.5 else self.data, "--out", outdir,
                    "--epochs", str(r.randint(1, 3)), "--threads", r.choice(["1", "2"])]
            argv += self.options(["hidden", "act", "loss", "hinge-margin", "focal-gamma", "focal-alpha",
                                  "grad-reduction", "lr", "wd", "momentum", "batch", "init-std", "seed", "!no-shuffle",
                                  "!quiet", "!json", "kernels", "max-memory", "!force", "optimizer", "schedule"], 4)
            if r.random() < 0.15:
                argv += ["--init", self.model_file(case)]
            if "--hidden" in argv:  # keep networks small: the point is the input handling, not the training time
                i = argv.index("--hidden")
                if i + 1 < len(argv) and argv[i + 1].isdigit() and int(argv[i + 1]) > 64:
                    argv[i + 1] = "64"
            if r.random() < 0.25:
                sig = r.choice([signal.SIGINT, signal.SIGTERM])
        elif kind == "resume":
            outdir = self.run_folder(case)
            argv = ["train", "--resume", outdir] + self.options(["threads", "kernels", "!quiet", "data", "lr"], 2)
            if r.random() < 0.25:
                sig = r.choice([signal.SIGINT, signal.SIGTERM])
        elif kind == "eval":
            argv = ["eval", self.model_file(case), "--data", self.data_dir(case) if r.random() < 0.5 else self.data]
            argv += self.options(["threads", "kernels", "max-memory", "dataset"], 2)
        elif kind == "predict":
            pics = []
            for i in range(r.randint(1, 3)):
                p = os.path.join(case, "p%d" % i)
                data = r.choice(self.pictures)
                write(p, mutate(data, r) if r.random() < 0.7 else data)
                pics.append(p)
            argv = ["predict", self.model_file(case)] + pics
            argv += self.options(["invert", "top", "!json", "!scores", "prepare", "max-memory"], 2)
        elif kind == "info":
            argv = ["info", self.model_file(case)] + (["extra"] if r.random() < 0.05 else [])
        elif kind == "report":
            runs = os.path.join(case, "runs")
            os.makedirs(runs)
            shutil.copytree(self.run_folder(case), os.path.join(runs, "a"))
            argv = ["report", runs, "--out", os.path.join(case, "report")]
        else:
            argv = [r.choice(["help", "--help", "frobnicate", "--version", "train", "eval"])]
            argv += [r.choice(JUNK) for _ in range(r.randint(0, 2))]
        return kind, argv, sig, outdir

    def check_folder(self, kind, status, outdir, existed):
        """The run folder is whole: no temporary or lock file, nothing for a usage error, all files for 0."""
        if not outdir or not os.path.isdir(outdir):
            return None
        names = os.listdir(outdir)
        for n in names:
            if ".tmp." in n:
                return "temporary file left: " + n
            if n == ".mlp.lock":
                return "lock file left after exit"
        if status == 2 and not existed and names:
            return "usage error but the folder holds " + ", ".join(sorted(names))
        if kind in ("train", "resume") and status == 0:
            for n in ("config.json", "metrics.csv", "checkpoint.safetensors", "model.safetensors"):
                if n not in names:
                    return "finished run without " + n
        if "model.safetensors" in names:
            p = subprocess.run([self.mlp, "info", os.path.join(outdir, "model.safetensors")], env=self.env,
                               capture_output=True, timeout=self.timeout)
            self.execs += 1
            if p.returncode != 0 and kind == "train":
                return "the written model does not load: " + p.stderr.decode(errors="replace")
        return None

    def one(self, n):
        case = os.path.join(self.work, "case%d" % n)
        os.makedirs(case)
        kind, argv, sig, outdir = self.make_case(case)
        existed = bool(outdir and os.path.isdir(outdir))
        start = time.time()
        p = subprocess.Popen([self.mlp] + argv, cwd=case, env=self.env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        problem = None
        try:
            if sig is not None:
                try:
                    p.communicate(timeout=self.rnd.uniform(0.05, 1.0))
                except subprocess.TimeoutExpired:
                    p.send_signal(sig)
            out, err = p.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            problem = "no exit within %d s (hang)" % self.timeout
        self.execs += 1
        status = p.returncode
        if sig is not None and status == -sig:
            status = 128 + sig  # our INT/TERM arrived before the handlers were installed: what a shell shows
        text = (out + err).decode(errors="replace")
        allowed = set(ALLOWED)
        if sig is not None:
            allowed.add(128 + sig)
        if problem is None:
            if any(m in text for m in SAN_MARKS):
                problem = "sanitizer report"
            elif status < 0:
                problem = "killed by signal %d" % -status
            elif status not in allowed:
                problem = "exit status %d" % status
            else:
                problem = self.check_folder(kind, status, outdir, existed)
        self.by_status[status] = self.by_status.get(status, 0) + 1
        if problem:
            self.failures += 1
            dest = os.path.join(self.out, "failures", "%d" % self.failures)
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(case, dest, symlinks=True, ignore_dangling_symlinks=True,
                            ignore=lambda d, names: [x for x in names
                                                     if stat.S_ISFIFO(os.lstat(os.path.join(d, x)).st_mode)])
            with open(os.path.join(dest, "CASE.txt"), "w") as f:
                f.write("problem: %s\ncommand: mlp %s\nsignal: %s\nstatus: %s (%.2f s)\n--- output\n%s\n" %
                        (problem, " ".join(repr(a) for a in argv), sig, status, time.time() - start, text))
            print("cli_fuzz: FAILURE %d: %s: mlp %s" % (self.failures, problem, " ".join(repr(a) for a in argv)))
            print("\n".join(text.splitlines()[:30]))
        shutil.rmtree(case, ignore_errors=True)

    def run(self, seconds):
        t0 = time.time()
        n = 0
        while time.time() - t0 < seconds:
            self.one(n)
            n += 1
        dt = time.time() - t0
        print("cli_fuzz: %d cases, %d executions in %.0f s, %d failures; exit statuses %s" %
              (n, self.execs, dt, self.failures, dict(sorted(self.by_status.items()))))
        shutil.rmtree(self.work, ignore_errors=True)
        return 1 if self.failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mlp", default="build-san/mlp")
    ap.add_argument("--seconds", type=float, default=75)
    ap.add_argument("--timeout", type=int, default=60)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--out", default="build-san/clifuzz")
    args = ap.parse_args()
    print("cli_fuzz: seed %d, %s for %.0f s" % (args.seed, args.mlp, args.seconds))
    sys.exit(Fuzzer(args).run(args.seconds))


if __name__ == "__main__":
    main()
