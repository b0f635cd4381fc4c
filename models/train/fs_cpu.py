"""OpenBLAS core type from the CPU, for the training tools.

Debian's OpenBLAS may not recognise recent CPUs and then runs its slowest
kernels (docs: DESIGN.md, "Kernels"). OPENBLAS_CORETYPE is read once, when
the library loads, so it must be set before torch or numpy is imported:
every script imports this module first, and importing it sets the variable
from the CPU's flags in /proc/cpuinfo, with the same rule as
classify/cls_blas.c for the daemon:

    avx512f (with avx512bw, avx512vl, avx512dq)  -> SkylakeX
    avx2 (with fma)                              -> Haswell
    otherwise                                    left unset

A value already in the environment is never overridden (the caller, or a
machine that pins one, knows better). models/train/run relies on this too.

It also sets OMP_WAIT_POLICY=PASSIVE unless the environment chose one:
PyTorch's OpenMP threads otherwise spin at every barrier, which stalls
training whenever another process shares the cores (a step of the 8-layer
pretraining took 7.7 s instead of 1.2 s) and fights OpenBLAS's own threads
in fp32 (bench/train_step.py --threads 2, idle Xeon, two runs: MLM fp32
2.54 / 2.90 s per step spinning, 1.13 / 1.28 s passive; bf16 0.646 / 0.695
against 0.682 / 0.723, 4-5% slower).
"""
import os
import sys

CORETYPE_VAR = "OPENBLAS_CORETYPE"


def cpu_flags(path="/proc/cpuinfo"):
    """The set of flags of the first CPU in path; empty when unreadable."""
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def coretype_for(flags):
    """The OpenBLAS core type for a set of CPU flags, or None."""
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
        return "SkylakeX"
    if {"avx2", "fma"} <= flags:
        return "Haswell"
    return None


def choose_openblas_coretype(environ=os.environ, flags=None):
    """Set OPENBLAS_CORETYPE in environ from the CPU unless it is set;
    returns the value in force (None when left unset)."""
    if environ.get(CORETYPE_VAR):
        return environ[CORETYPE_VAR]
    want = coretype_for(cpu_flags() if flags is None else flags)
    if want is None:
        return None
    if environ is os.environ and ("torch" in sys.modules or "numpy" in sys.modules):
        sys.stderr.write("fs_cpu: imported after torch/numpy: %s=%s comes too late for OpenBLAS\n"
                         % (CORETYPE_VAR, want))
    environ[CORETYPE_VAR] = want
    return want


choose_openblas_coretype()
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
