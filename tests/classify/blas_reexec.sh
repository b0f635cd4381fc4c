#!/bin/sh
# The OpenBLAS core-type re-exec, end to end (classify/cls_blas.h). Where
# OpenBLAS detects this CPU right, FINSENT_BLAS_CORE_SEEN=Prescott makes
# finsent act as if it had fallen back to Prescott, as Debian's 0.3.21 does
# on CPUs it does not know. usage: blas_reexec.sh FINSENT   (exit 77: skip)
set -eu
. "$(dirname "$0")/../common/th_skip.sh"
fs=$1
fail() { echo "FAIL: $*"; exit 1; }
feats=$("$fs" version | sed -n 's/^features: //p')
has() { for f in "$@"; do case " $feats " in *" $f "*) ;; *) return 1 ;; esac; done; }
if has avx512f avx512bw avx512vl avx512dq; then
    want=SkylakeX
elif has avx2 fma; then
    want=Haswell
else
    th_skip avx2 "blas_reexec: this CPU has neither AVX-512 nor AVX2 ($feats)"
fi
unset OPENBLAS_CORETYPE FINSENT_BLAS_REEXEC

out=$(FINSENT_BLAS_CORE_SEEN=Prescott "$fs" version | grep '^blas:')
echo "$out"
[ "$out" = "blas:     OpenBLAS core $want (OPENBLAS_CORETYPE set by finsent)" ] ||
    fail "no re-exec to $want: $out"

# the re-exec keeps every argument
out=$(FINSENT_BLAS_CORE_SEEN=Prescott "$fs" bench --layers 1 --hidden 32 --heads 2 \
    --intermediate 64 --vocab 100 --seq-len 8 --batch 2 --runs 1 --iters 1 --warmup 0 2>&1)
echo "$out"
echo "$out" | grep -q "L=1 H=32 A=2 I=64 vocab=100, fixed length, batch 2, .*OpenBLAS core $want" ||
    fail "bench after the re-exec lost its arguments or its core"

# the loop guard: an exec'd finsent never re-execs again
out=$(FINSENT_BLAS_REEXEC=1 FINSENT_BLAS_CORE_SEEN=Prescott "$fs" version | grep '^blas:')
case "$out" in *"detected by OpenBLAS"*) ;; *) fail "re-exec despite the guard: $out" ;; esac

# the user's own choice wins, even a slow one
out=$(OPENBLAS_CORETYPE=Prescott FINSENT_BLAS_CORE_SEEN=Prescott "$fs" version | grep '^blas:')
[ "$out" = "blas:     OpenBLAS core Prescott (OPENBLAS_CORETYPE from the environment)" ] ||
    fail "OPENBLAS_CORETYPE from the user not kept: $out"
echo "ok: re-exec to $want, arguments kept, guard and user choice respected"
