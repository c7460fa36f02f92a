"""Build the `mlp` package: the estimator (Python) and mlp._mlp, a CPython extension compiled from the
project's own C sources (../src) with the flags of the Makefile that matter for the results
(-ffp-contract=off: the same rounding as the CLI, so the same seed gives the same model bit for bit).

    python -m pip install --no-build-isolation ./python     (from the repository root)
    python setup.py build_ext --inplace                      (what `make python` runs)
"""
import glob
import os
import re

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if not os.path.exists(os.path.join(ROOT, "include", "mlp.h")):
    raise SystemExit("mlp: the C sources are not at %s (build the package from the mlp repository)" % ROOT)

# paths relative to this folder, as setuptools requires (the objects land under build/, ../ included)
os.chdir(HERE)
# libmlp's sources, as the Makefile's LIB_SRC (src/study is the tool's report module, not the library's)
SOURCES = sorted(f for d in ("base", "core", "kernels", "io") for f in glob.glob(os.path.join("..", "src", d, "*.c")))
INCLUDES = [os.path.join(ROOT, "include")] + sorted(glob.glob(os.path.join(ROOT, "src", "*")))


class BuildExt(build_ext):
    """Compiles the C files in parallel (one job per CPU) unless told otherwise."""

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = os.cpu_count() or 1


# The libraries the C sources need: the Makefile's LDLIBS line (-ljpeg -lz -lm), or $MLP_LDLIBS (what `make
# python` passes: the build's own, e.g. with -lopenblas).
def ldlibs():
    text = os.environ.get("MLP_LDLIBS")
    if text is None:
        try:
            with open(os.path.join(ROOT, "Makefile")) as f:
                m = re.search(r"^LDLIBS\s*=(.*)$", f.read(), re.M)
        except OSError:
            m = None
        text = m.group(1) if m else "-ljpeg -lz -lm"
    return [t[2:] for t in text.split() if t.startswith("-l")]


LIBS = ldlibs()

# MLP_LIBRARY=path/to/libmlp.a (what `make python` passes): link the library objects `make` compiled (with
# -fPIC) instead of compiling the sources again.
LIBRARY = os.environ.get("MLP_LIBRARY")
ext = Extension(
    "mlp._mlp",
    sources=[os.path.join("mlp", "_mlpmodule.c")] + ([] if LIBRARY else SOURCES),
    extra_objects=[LIBRARY] if LIBRARY else [],
    include_dirs=INCLUDES,
    extra_compile_args=["-std=c11", "-O2", "-g0", "-fopenmp", "-ffp-contract=off", "-D_POSIX_C_SOURCE=200809L",
                        "-Wall", "-Wextra", "-Wno-missing-field-initializers", "-Wno-unused-parameter"],
    extra_link_args=["-fopenmp"],
    libraries=LIBS,
)

setup(packages=["mlp"], ext_modules=[ext], cmdclass={"build_ext": BuildExt})
