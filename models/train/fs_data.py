"""Dataset lists and readers for finsent training (see shared/data/README.md)."""
import os

SENTIMENT_LABELS = ["negative", "neutral", "positive"]
TOPIC_LABELS = [
    "Analyst Update", "Fed | Central Banks", "Company | Product News",
    "Treasuries | Corporate Debt", "Dividend", "Earnings", "Energy | Oil",
    "Financials", "Currencies", "General News | Opinion",
    "Gold | Metals | Materials", "IPO", "Legal | Regulation",
    "M&A | Investments", "Macro", "Markets", "Politics", "Personnel Change",
    "Stock Commentary", "Stock Movement",
]
SENTIMENT_SETS = ["financial_phrasebank", "twitter_financial_news_sentiment",
                  "sentfin", "fiqa_semeval2017", "stockemotions"]
TOPIC_SETS = ["twitter_financial_news_topic"]
# labelled sets used only as pretraining text (train split only)
TEXT_ONLY_SETS = ["reuters21578_modapte"]
CORPUS_FILES = ["reuters21578.txt", "stocknet_tweets.txt", "ectsum_transcripts.txt",
                "ectsum_transcripts_rest.txt", "maec_transcripts.txt", "fomc_communications.txt"]
# non-commercial / research-only sources, dropped by --commercial-only
NONCOMMERCIAL = {"financial_phrasebank", "reuters21578_modapte", "fiqa_semeval2017",
                 "stockemotions", "reuters21578.txt", "fomc_communications.txt"}


def allowed(name, commercial_only):
    return not (commercial_only and name in NONCOMMERCIAL)


def read_tsv(path, limit=None):
    rows = []
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n")
        assert header == "text\tlabel", path
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            text, label = line.split("\t")
            rows.append((text, label))
            if limit and len(rows) >= limit:
                break
    return rows


def pretrain_texts(data_dir, commercial_only=False, limit=None):
    """Yield (source, text) lines: corpus/*.txt and the train.tsv text columns ONLY."""
    for fn in CORPUS_FILES:
        if not allowed(fn, commercial_only):
            continue
        n = 0
        with open(os.path.join(data_dir, "corpus", fn), encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    yield fn, line
                    n += 1
                    if limit and n >= limit:
                        break
    for ds in SENTIMENT_SETS + TOPIC_SETS + TEXT_ONLY_SETS:
        if not allowed(ds, commercial_only):
            continue
        for text, _ in read_tsv(os.path.join(data_dir, ds, "train.tsv"), limit):
            yield ds, text


def labelled(data_dir, split, commercial_only=False, limit=None):
    """{dataset: [(text, label)]} for the sentiment and topic sets."""
    out = {}
    for ds in SENTIMENT_SETS + TOPIC_SETS:
        if allowed(ds, commercial_only):
            out[ds] = read_tsv(os.path.join(data_dir, ds, split + ".tsv"), limit)
    return out


# Unlabelled sentences that look like the labelled texts, for pseudo-labels in
# distillation: tweets (like the Twitter sets) and earnings-call / news
# sentences of 8-40 words (like PhraseBank, SEntFiN).
PSEUDO_SOURCES = [("stocknet_tweets.txt", 0.35), ("reuters21578.txt", 0.0),
                  ("ectsum_transcripts.txt", 0.15), ("ectsum_transcripts_rest.txt", 0.15),
                  ("maec_transcripts.txt", 0.25), ("fomc_communications.txt", 0.10)]


def pseudo_texts(data_dir, n, seed=1, commercial_only=False):
    """n corpus lines (deterministic for a seed), shares as in PSEUDO_SOURCES,
    renormalised over the sources allowed."""
    import random
    rng = random.Random(seed)
    srcs = [(fn, w) for fn, w in PSEUDO_SOURCES if w > 0 and allowed(fn, commercial_only)]
    tot = sum(w for _, w in srcs)
    out = []
    for fn, w in srcs:
        want = int(round(n * w / tot))
        cand = []
        with open(os.path.join(data_dir, "corpus", fn), encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                nw = len(line.split())
                if 8 <= nw <= 40 or (fn == "stocknet_tweets.txt" and nw >= 5):
                    cand.append(line)
        rng.shuffle(cand)
        out.extend(cand[:want])
    return out
