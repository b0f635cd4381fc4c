#!/bin/sh
# The accuracy gate of the reduced-precision engine on the shipped model:
# `finsent eval --gate` on every validation split of ../shared/data (label
# agreement of bf16 and int8 with fp32 >= 99.5% / 99.0%), with the kernels
# this CPU chooses, then with the AVX-512 kernels forced when AMX was
# chosen. Skipped (77) when the labelled data is not next to the checkout,
# or when this CPU has only the scalar kernels (minutes per split).
# usage: accuracy_gate.sh FINSENT SOURCE_DIR
set -eu
. "$(dirname "$0")/../common/th_skip.sh"
finsent=$1
data=$2/../shared/data
if [ ! -f "$data/financial_phrasebank/validation.tsv" ]; then
    th_skip data "accuracy_gate: no labelled data at $data"
fi
if "$finsent" version | grep -q "scalar, slow"; then
    th_skip avx512-bf16 "accuracy_gate: no bf16/int8 SIMD kernels on this CPU"
fi
files=""
for d in financial_phrasebank twitter_financial_news_sentiment twitter_financial_news_topic \
         fiqa_semeval2017 sentfin stockemotions; do
    files="$files $data/$d/validation.tsv"
done
# shellcheck disable=SC2086
"$finsent" eval --gate $files
if "$finsent" version | grep -q "bf16 amx"; then
    # shellcheck disable=SC2086
    FINSENT_LOWP=avx512 "$finsent" eval --gate $data/financial_phrasebank/validation.tsv \
        $data/fiqa_semeval2017/validation.tsv
fi
