/*
 * app_gate: the accuracy gate of the reduced-precision engine, run by
 * `finsent eval --gate FILE.tsv...` (see app_gate.c). Main thread.
 */
#ifndef APP_GATE_H
#define APP_GATE_H

#include <stddef.h>

#include "classify/cls_classifier.h"

/* app_eval_gate classifies every file at fp32, bf16 and int8 with the
 * options base (its precision is ignored), prints one line per file and
 * reduced precision, and returns 1 when every file passes, 0 otherwise. */
int app_eval_gate(const cls_classifier_opts_t *base, char *const *files, size_t nfiles);

#endif
