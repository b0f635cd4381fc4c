#!/usr/bin/env python3
"""Shift the demo stream's event times to the present, for the dashboard test.

The demo stream (tests/data/demo/stream.jsonl, scripts/make_demo_stream.py)
starts at 2026-11-28T14:00:00Z and has a planted negative $ACME / oil burst
between minutes 70 and 76. Rules are evaluated against the wall clock, so for
the burst to fire an alert now, it has to end about now: every ts is shifted
by (now - start - END_MIN minutes), and lines that would then lie in the
future are dropped (the daemon would not count them anyway).

usage: shift_stream.py IN OUT [--end-min 77]
"""
import argparse
import json
import time

START_MS = 1795874400000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--end-min", type=int, default=77)
    a = ap.parse_args()
    now = int(time.time() * 1000)
    shift = now - START_MS - a.end_min * 60000
    kept = 0
    with open(a.inp, encoding="utf-8") as f, open(a.out, "w", encoding="utf-8") as g:
        for line in f:
            o = json.loads(line)
            o["ts"] = int(o["ts"]) + shift
            if o["ts"] > now:
                continue
            g.write(json.dumps(o, ensure_ascii=False) + "\n")
            kept += 1
    print("shift_stream: %d items, last at now" % kept)


if __name__ == "__main__":
    main()
