#!/usr/bin/env python3
"""Build the demo's sample stream: tests/data/demo/stream.jsonl.

Deterministic (seeded). About 3,000 financial headlines spread over two hours
of event time, from the validation split of the MIT-licensed Twitter financial
news topic dataset (never a training split), plus a fictional oil company,
Acme Petroleum ($ACME), that is in the news all along with ordinary,
mostly neutral or positive headlines, and a planted burst of negative
oil/ACME news between minute 70 and minute 76. After the burst, ordinary ACME
news continues so the negative rate falls again and the alert resolves.

Each line is an input message with an absolute "ts" starting at
2026-11-28T14:00:00Z; scripts/replay shifts them to the present.

usage: scripts/make_demo_stream.py [--data ../shared/data] [--out tests/data/demo/stream.jsonl]
"""
import argparse
import json
import os
import random

START_MS = 1795874400000  # 2026-11-28T14:00:00Z
SPAN_MS = 2 * 3600 * 1000
BURST_FROM, BURST_TO = 70 * 60000, 76 * 60000

ACME_ORDINARY = [
    "Acme Petroleum ($ACME) schedules third-quarter earnings call for next week",
    "$ACME: Acme Petroleum declares regular quarterly dividend of $0.42",
    "Acme Petroleum names new head of investor relations",
    "Acme Petroleum ($ACME) completes pipeline expansion on schedule",
    "$ACME shares edge higher as crude holds steady",
    "Acme Petroleum signs long-term supply agreement with Gulf refiner",
    "Analyst reiterates buy rating on Acme Petroleum ($ACME), target $48",
    "$ACME Acme Petroleum to present at energy investor conference",
    "Acme Petroleum ($ACME) reports record production volumes in the Permian",
    "Acme Petroleum raises full-year output guidance; $ACME up 3%",
    "$ACME: Acme Petroleum board approves $500 million share buyback",
    "Acme Petroleum ($ACME) beats revenue estimates on strong refining margins",
]
ACME_BURST = [
    "$ACME plunges after explosion shuts Acme Petroleum's largest refinery",
    "Acme Petroleum ($ACME) halts crude output after massive oil spill in the Gulf",
    "$ACME crashes 18% as regulators open probe into Acme Petroleum spill",
    "Oil spill fallout: Acme Petroleum faces billions in cleanup costs, $ACME sinks",
    "Acme Petroleum ($ACME) suspends dividend as refinery losses mount",
    "$ACME downgraded to sell; analysts warn of huge liabilities after spill",
    "Crude supply disruption deepens as Acme Petroleum refinery fire spreads",
    "Acme Petroleum ($ACME) shares tumble to five-year low after spill",
    "$ACME: Acme Petroleum warns of steep quarterly loss after refinery blast",
    "Lawsuits pile up against Acme Petroleum over toxic oil leak; $ACME slides",
    "Acme Petroleum ($ACME) CEO under fire as spill cleanup stalls",
    "$ACME bonds slump as Acme Petroleum's credit rating is cut to junk",
]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data"))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "data", "demo", "stream.jsonl"))
    ap.add_argument("--count", type=int, default=2800)
    args = ap.parse_args()
    rnd = random.Random(20261128)

    path = os.path.join(args.data, "twitter_financial_news_topic", "validation.tsv")
    with open(path, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t")[0] for line in f][1:]
    rnd.shuffle(rows)
    texts = rows[: args.count]

    items = []
    for i, text in enumerate(texts):
        items.append((rnd.randrange(SPAN_MS), {"id": "demo-%05d" % i, "text": text, "source": "newswire"}))
    # Ordinary ACME news all along: about one every three minutes.
    for i in range(40):
        t = rnd.randrange(SPAN_MS)
        if BURST_FROM - 60000 <= t <= BURST_TO + 60000:
            continue
        items.append((t, {"id": "acme-%03d" % i, "text": rnd.choice(ACME_ORDINARY), "source": "newswire"}))
    # After the burst, the story calms down: more ordinary ACME news.
    for i in range(250):
        t = BURST_TO + 120000 + rnd.randrange(SPAN_MS - BURST_TO - 120000)
        items.append((t, {"id": "acme-after-%03d" % i, "text": rnd.choice(ACME_ORDINARY), "source": "newswire"}))
    # The planted burst: 72 negative ACME / oil headlines in six minutes.
    for i in range(72):
        t = BURST_FROM + rnd.randrange(BURST_TO - BURST_FROM)
        items.append((t, {"id": "burst-%03d" % i, "text": ACME_BURST[i % len(ACME_BURST)], "source": "newswire"}))

    items.sort(key=lambda x: (x[0], x[1]["id"]))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        for t, obj in items:
            obj["ts"] = START_MS + t
            f.write(json.dumps(obj, ensure_ascii=False) + "\n")
    print("wrote %d items to %s" % (len(items), args.out))


if __name__ == "__main__":
    main()
