"""WordPiece tokenizer faithful to Hugging Face BertTokenizer (do_lower_case=True,
tokenize_chinese_chars=True, strip_accents=None), plus a WordPiece vocabulary
trainer (BPE merges producing '##' continuation pieces, like HF WordPieceTrainer).

Pure Python, standard library only. See models/FORMAT.md for the algorithm.
"""
import heapq
import re
import unicodedata
from collections import Counter, defaultdict

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = 0, 1, 2, 3, 4
MAX_CHARS_PER_WORD = 100


def _is_whitespace(ch):
    if ch in " \t\n\r":
        return True
    return unicodedata.category(ch) == "Zs"


def _is_control(ch):
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch).startswith("C")


def _is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_chinese_char(cp):
    return ((0x4E00 <= cp <= 0x9FFF) or (0x3400 <= cp <= 0x4DBF)
            or (0x20000 <= cp <= 0x2A6DF) or (0x2A700 <= cp <= 0x2B73F)
            or (0x2B740 <= cp <= 0x2B81F) or (0x2B820 <= cp <= 0x2CEAF)
            or (0xF900 <= cp <= 0xFAFF) or (0x2F800 <= cp <= 0x2FA1F))


def _split_on_punc(word):
    out, cur = [], []
    for ch in word:
        if _is_punctuation(ch):
            if cur:
                out.append("".join(cur))
                cur = []
            out.append(ch)
        else:
            cur.append(ch)
    if cur:
        out.append("".join(cur))
    return out


def _basic_tokenize_slow(text):
    """HF BasicTokenizer.tokenize, step by step."""
    buf = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or _is_control(ch):
            continue
        if _is_whitespace(ch):
            buf.append(" ")
        elif _is_chinese_char(cp):
            buf.append(" ")
            buf.append(ch)
            buf.append(" ")
        else:
            buf.append(ch)
    text = unicodedata.normalize("NFC", "".join(buf))
    out = []
    for tok in text.strip().split():
        tok = tok.lower()
        tok = "".join(c for c in unicodedata.normalize("NFD", tok)
                      if unicodedata.category(c) != "Mn")
        out.extend(_split_on_punc(tok))
    # HF re-splits the joined result on whitespace
    return " ".join(out).strip().split()


# ASCII fast path: identical result for pure-ASCII input.
_ASCII_CLEAN = {c: None for c in list(range(0, 32)) + [127]}
_ASCII_CLEAN.update({9: " ", 10: " ", 13: " "})
_ASCII_PUNCT = re.compile(r"[!-/:-@\[-`{-~]")


def basic_tokenize(text):
    if text.isascii():
        text = text.translate(_ASCII_CLEAN).lower()
        return _ASCII_PUNCT.sub(r" \g<0> ", text).split()
    return _basic_tokenize_slow(text)


def load_vocab(path):
    with open(path, encoding="utf-8") as f:
        toks = [line.rstrip("\n") for line in f]
    return toks


class Tokenizer:
    def __init__(self, vocab_tokens, max_len=128, any_special_ids=False):
        """Our vocabularies put SPECIALS first (ids 0-4); any_special_ids
        accepts a standard BERT vocabulary ([UNK] 100, [CLS] 101, ...) too,
        for encoding only (benchmarks), looking the ids up."""
        self.itos = list(vocab_tokens)
        self.vocab = {t: i for i, t in enumerate(self.itos)}
        for i, s in enumerate(SPECIALS):
            if any_special_ids:
                assert s in self.vocab or s == "[MASK]", "special token %s missing" % s
            else:
                assert self.vocab.get(s) == i, "special token %s must have id %d" % (s, i)
        self.unk_id = self.vocab.get("[UNK]", UNK_ID)
        self.cls_id = self.vocab.get("[CLS]", CLS_ID)
        self.sep_id = self.vocab.get("[SEP]", SEP_ID)
        self.max_len = max_len
        self._cache = {}

    @classmethod
    def from_file(cls, path, max_len=128, any_special_ids=False):
        return cls(load_vocab(path), max_len, any_special_ids)

    def wordpiece(self, word):
        """List of ids for one basic token (greedy longest-match-first)."""
        ids = self._cache.get(word)
        if ids is not None:
            return ids
        vocab = self.vocab
        if len(word) > MAX_CHARS_PER_WORD:
            ids = [self.unk_id]
        else:
            ids = []
            start, n = 0, len(word)
            while start < n:
                end = n
                cur = None
                while start < end:
                    sub = word[start:end]
                    if start > 0:
                        sub = "##" + sub
                    cur = vocab.get(sub)
                    if cur is not None:
                        break
                    end -= 1
                if cur is None:
                    ids = [self.unk_id]
                    break
                ids.append(cur)
                start = end
        if len(self._cache) < 2000000:
            self._cache[word] = ids
        return ids

    def tokenize_ids(self, text):
        out = []
        for w in basic_tokenize(text):
            out.extend(self.wordpiece(w))
        return out

    def tokenize(self, text):
        return [self.itos[i] for i in self.tokenize_ids(text)]

    def encode(self, text, max_len=None):
        """[CLS] pieces [SEP], truncated to max_len ids in total."""
        max_len = max_len or self.max_len
        ids = self.tokenize_ids(text)[: max_len - 2]
        return [self.cls_id] + ids + [self.sep_id]


# --------------------------------------------------------------------------
# Vocabulary training: BPE merges over words, continuation pieces marked '##'.

def train_wordpiece(word_counts, vocab_size=12000, min_word_freq=2,
                    limit_alphabet=1000, log=print):
    """word_counts: Counter of basic tokens. Returns the vocab token list."""
    char_counts = Counter()
    for w, c in word_counts.items():
        for ch in w:
            char_counts[ch] += c
    alphabet = sorted(ch for ch, _ in sorted(char_counts.items(), key=lambda x: (-x[1], x[0]))[:limit_alphabet])
    alpha = set(alphabet)
    vocab = list(SPECIALS)
    seen = set(vocab)

    def add(tok):
        if tok not in seen:
            seen.add(tok)
            vocab.append(tok)

    for ch in alphabet:
        add(ch)
    words, counts = [], []
    cont_chars = set()
    for w, c in sorted(word_counts.items()):
        if c < min_word_freq or len(w) > MAX_CHARS_PER_WORD or any(ch not in alpha for ch in w):
            continue
        syms = [w[0]] + ["##" + ch for ch in w[1:]]
        cont_chars.update(w[1:])
        words.append(syms)
        counts.append(c)
    for ch in sorted(cont_chars):
        add("##" + ch)
    log("vocab: %d words for merges, alphabet %d, initial vocab %d" % (len(words), len(alphabet), len(vocab)))

    pair_counts = defaultdict(int)
    where = defaultdict(set)
    for i, syms in enumerate(words):
        c = counts[i]
        for a, b in zip(syms, syms[1:]):
            pair_counts[(a, b)] += c
            where[(a, b)].add(i)
    heap = [(-c, p) for p, c in pair_counts.items()]
    heapq.heapify(heap)

    def merged(a, b):
        return a + (b[2:] if b.startswith("##") else b)

    n_merges = 0
    while len(vocab) < vocab_size and heap:
        negc, p = heapq.heappop(heap)
        cur = pair_counts.get(p, 0)
        if cur <= 0:
            continue
        if -negc != cur:  # stale entry; the current count was pushed when it changed
            continue
        a, b = p
        new = merged(a, b)
        add(new)
        n_merges += 1
        changed = set()
        for i in list(where.pop(p, ())):
            syms = words[i]
            c = counts[i]
            # quick check
            j, found = 0, False
            out = []
            while j < len(syms):
                if j + 1 < len(syms) and syms[j] == a and syms[j + 1] == b:
                    out.append(new)
                    j += 2
                    found = True
                else:
                    out.append(syms[j])
                    j += 1
            if not found:
                continue
            for x, y in zip(syms, syms[1:]):
                pair_counts[(x, y)] -= c
                changed.add((x, y))
            for x, y in zip(out, out[1:]):
                pair_counts[(x, y)] += c
                where[(x, y)].add(i)
                changed.add((x, y))
            words[i] = out
        pair_counts.pop(p, None)
        for q in changed:
            cq = pair_counts.get(q, 0)
            if cq > 0:
                heapq.heappush(heap, (-cq, q))
            else:
                pair_counts.pop(q, None)
        if n_merges % 2000 == 0:
            log("vocab: %d merges, size %d" % (n_merges, len(vocab)))
    return vocab
