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
CORPUS_FILES = ["reuters21578.txt", "stocknet_tweets.txt", "ectsum_transcripts.txt"]
# non-commercial / research-only sources, dropped by --commercial-only
NONCOMMERCIAL = {"financial_phrasebank", "reuters21578_modapte", "fiqa_semeval2017",
                 "stockemotions", "reuters21578.txt"}


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
