#!/usr/bin/python3
"""Compare finsent's feed parser with Universal Feed Parser (feedparser).

usage: tests/ingest/feedcompare.py [-v] [--data DIR] [--min-agreement X]
                                   [--timeout S] [FINSENT]

For every feed fixture under tests/data/feeds/ (recursively: *.xml, *.rss,
*.atom, *.json, *.rdf), run

    FINSENT feeds parse FILE [--content-type T]

which prints one JSON object ({"format", "encoding", "title", "recovered",
"note", "warning", "repaired", "item_like", "skipped", "items": [{"id",
"title", "text", "url", "event_ms", "event_time"}]}; exit status 1 on a
parse error), and feedparser.parse(bytes, response_headers={"content-type":
T}) on the same bytes, then compare them.

FINSENT is the binary (default: build/ci/app/finsent, else build/ci/finsent,
under the repository root). T, the HTTP Content-Type, comes from
tests/data/feeds/charset/cases.tsv for the character-set fixtures; other
files get none. Skipped: anything under an opml/ folder; files whose name
says malformed, billion or not_a_feed are kept only when both parsers read
them (finsent exits 0, feedparser recognises a feed format or finds entries).

Per document: items found by both, by feedparser only, by finsent only.
Per item, matched by index in document order (finsent skips items with
neither title nor text, so a skip can shift the pairs after it):
  title  feedparser's normalised when its title_detail type is HTML (tags
         removed, block tags as spaces, entities unescaped); finsent's is
         plain text already (a title about "the <blink> tag" keeps it), so
         only white space is collapsed on both sides; empty == absent;
  link   feedparser entry.link vs finsent url, stripped; both absent agree;
  date   feedparser published_parsed, else updated_parsed, as UTC epoch
         seconds, vs finsent event_ms // 1000 (0/null = absent); they agree
         when equal or both absent.
feedparser entries with neither title nor summary/content are left out
before pairing, as finsent skips such items by contract (they are counted
on their own line). The encoding row (informational, not in
--min-agreement) compares feedparser's d.encoding with finsent's encoding
by family (ISO-8859-1/windows-1252, GB2312/GBK/GB18030, Shift_JIS/CP932 and
UTF-16/LE/BE are one family each; other names after codecs.lookup()).

Output: a summary table (documents; documents with items in both /
feedparser only / finsent only / neither; finsent errors; items paired and
unpaired; agreement rates for titles, links, dates). With -v, every
disagreement as "file  index  field  feedparser=...  finsent=...", and the
documents whose item counts differ.

Exit status: 0 always (it is a report), except with --min-agreement X
(a fraction such as 0.9, or a percentage such as 90): 1 when the title,
link or date agreement rate is below X; 2 on usage errors (no binary,
no feedparser).

feedparser is Debian's python3-feedparser, installed for /usr/bin/python3;
when the python3 first on PATH (e.g. pyenv) lacks it, the script re-runs
itself with /usr/bin/python3.
"""

import argparse
import calendar
import codecs
import html
import json
import os
import re
import subprocess
import sys

try:
    import feedparser
except ImportError:
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != \
            os.path.realpath("/usr/bin/python3") and not os.environ.get("FEEDCOMPARE_REEXEC"):
        os.environ["FEEDCOMPARE_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    sys.stderr.write("feedcompare: the feedparser module is missing "
                     "(apt-get install python3-feedparser)\n")
    sys.exit(2)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SUFFIXES = (".xml", ".rss", ".atom", ".json", ".rdf")
RISKY = ("malformed", "billion", "not_a_feed")
FIELDS = ("title", "link", "date")

BLOCK = re.compile(r"</?(?:p|br|div|li|ul|ol|h[1-6]|tr|td|th|table|blockquote|pre|hr)\b[^>]*>",
                   re.I)
TAG = re.compile(r"<[^>]*>")
WS = re.compile(r"\s+")


def norm_text(s):
    """HTML tags removed, entities unescaped, white space collapsed."""
    if s is None:
        return ""
    s = BLOCK.sub(" ", s)
    s = TAG.sub("", s)
    s = html.unescape(s)
    return WS.sub(" ", s).strip()


def fp_title(e):
    """feedparser's title: sanitised HTML when its type says html, else text."""
    td = e.get("title_detail") or {}
    if "html" in (td.get("type") or "text/html"):
        return norm_text(e.get("title"))
    return norm_plain(e.get("title"))


def norm_plain(s):
    """Plain text: white space collapsed only."""
    return WS.sub(" ", s or "").strip()


def norm_link(s):
    return (s or "").strip()


def fp_date(e):
    t = e.get("published_parsed") or e.get("updated_parsed")
    return calendar.timegm(t) if t else None


def fs_date(it):
    ms = it.get("event_ms")
    return ms // 1000 if isinstance(ms, int) and ms != 0 else None


# Encoding families, as in tests/ingest/test_feed_charset.c: names that decode
# the fixtures alike, or that a detector cannot tell apart.
FAMILIES = {
    "latin": ("iso88591", "latin1", "l1", "iso885915", "latin9", "windows1252", "cp1252"),
    "gb": ("gb2312", "gbk", "gb18030", "cp936", "euccn"),
    "sjis": ("shiftjis", "sjis", "cp932", "windows31j", "mskanji"),
    "utf16": ("utf16", "utf16le", "utf16be"),
}


def encoding_family(name):
    n = re.sub(r"[-_ ]", "", (name or "").lower())
    for fam, names in FAMILIES.items():
        if n in names:
            return fam
    try:
        return codecs.lookup(name).name
    except (LookupError, TypeError):
        return n


def content_types(data_dir):
    """{path relative to data_dir: content type} from charset/cases.tsv."""
    out = {}
    tsv = os.path.join(data_dir, "charset", "cases.tsv")
    if not os.path.exists(tsv):
        return out
    with open(tsv, encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\r\n")
            if not line or line.startswith("#"):
                continue
            f = line.split("\t")
            if len(f) >= 2 and f[1] and f[1] != '""':
                out[os.path.join("charset", f[0])] = f[1]
    return out


def fixtures(data_dir):
    for dirpath, dirnames, filenames in os.walk(data_dir):
        dirnames[:] = sorted(d for d in dirnames if d != "opml")
        for name in sorted(filenames):
            if name.lower().endswith(SUFFIXES):
                yield os.path.relpath(os.path.join(dirpath, name), data_dir)


def run_finsent(binary, path, ct, timeout):
    """(result dict or None, error string)."""
    cmd = [binary, "feeds", "parse", path]
    if ct:
        cmd += ["--content-type", ct]
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timed out after %gs" % timeout
    err = p.stderr.decode("utf-8", "replace").strip().splitlines()
    err = err[-1] if err else ""
    if p.returncode != 0:
        return None, "exit %d: %s" % (p.returncode, err)
    try:
        obj = json.loads(p.stdout.decode("utf-8", "replace"))
    except ValueError as e:
        return None, "not JSON (%s): %r" % (e, p.stdout[:120])
    if not isinstance(obj, dict) or not isinstance(obj.get("items"), list):
        return None, "JSON without an items array"
    return obj, ""


def run_feedparser(path, ct):
    with open(path, "rb") as fh:
        data = fh.read()
    if ct:
        return feedparser.parse(data, response_headers={"content-type": ct})
    return feedparser.parse(data)


def short(v, n=100):
    s = "(absent)" if v is None or v == "" else repr(v)
    return s if len(s) <= n else s[:n - 3] + "..."


def pct(a, n):
    return "%6.1f%%" % (100.0 * a / n) if n else "     -"


def main():
    ap = argparse.ArgumentParser(description="Compare finsent feeds parse with feedparser.",
                                 epilog="See the module docstring for details.")
    ap.add_argument("finsent", nargs="?", help="the finsent binary "
                    "(default build/ci/app/finsent, else build/ci/finsent)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every disagreement")
    ap.add_argument("--data", default=os.path.join(ROOT, "tests", "data", "feeds"),
                    help="the fixture folder (default tests/data/feeds)")
    ap.add_argument("--min-agreement", type=float, metavar="X",
                    help="exit 1 when a title/link/date agreement rate is below X "
                         "(0.9 or 90)")
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per finsent run")
    args = ap.parse_args()

    binary = args.finsent
    if binary is None:
        for cand in ("build/ci/app/finsent", "build/ci/finsent"):
            if os.access(os.path.join(ROOT, cand), os.X_OK):
                binary = os.path.join(ROOT, cand)
                break
    if binary is None or not os.access(binary, os.X_OK):
        sys.stderr.write("feedcompare: no finsent binary (%s)\n"
                         % (binary or "build/ci/app/finsent"))
        return 2

    cts = content_types(args.data)
    docs = both = fp_only = fs_only = neither = fs_errors = skipped_docs = 0
    paired = unpaired_fp = unpaired_fs = fp_empty = 0
    agree = {f: 0 for f in FIELDS}
    enc_n = enc_agree = 0
    lines = []      # disagreements, for -v
    doc_notes = []  # per-document notes, for -v

    for rel in fixtures(args.data):
        path = os.path.join(args.data, rel)
        ct = cts.get(rel)
        if ct is None and rel.endswith(".json"):
            ct = "application/feed+json"  # feedparser reads JSON Feed only when told
        fs, fs_err = run_finsent(binary, path, ct, args.timeout)
        d = run_feedparser(path, ct)
        fp_ok = bool(d.get("version")) or bool(d.entries)
        if any(w in os.path.basename(rel) for w in RISKY) and not (fs is not None and fp_ok):
            skipped_docs += 1
            doc_notes.append("%s: skipped (finsent %s, feedparser %s)"
                             % (rel, "ok" if fs is not None else fs_err,
                                "ok" if fp_ok else "no feed: %s" % d.get("bozo_exception")))
            continue
        docs += 1
        fs_items = fs["items"] if fs is not None else []
        fp_items = [e for e in d.entries
                    if e.get("title") or e.get("summary") or e.get("content")]
        fp_empty += len(d.entries) - len(fp_items)
        if fs is None:
            fs_errors += 1
            doc_notes.append("%s: finsent failed: %s" % (rel, fs_err))
        if fs_items and fp_items:
            both += 1
        elif fp_items:
            fp_only += 1
        elif fs_items:
            fs_only += 1
        else:
            neither += 1
        if fs is not None and len(fs_items) != len(fp_items):
            doc_notes.append("%s: feedparser %d entries (with title or text), finsent %d items "
                             "(skipped %s, item_like %s)"
                             % (rel, len(fp_items), len(fs_items), fs.get("skipped"),
                                fs.get("item_like")))
        if fs is not None:
            enc_n += 1
            fp_enc, fs_enc = d.get("encoding", ""), fs.get("encoding", "")
            if encoding_family(fp_enc) == encoding_family(fs_enc):
                enc_agree += 1
            else:
                lines.append("%s\t-\tencoding\tfeedparser=%s\tfinsent=%s"
                             % (rel, short(fp_enc), short(fs_enc)))
        n = min(len(fs_items), len(fp_items))
        paired += n
        unpaired_fp += len(fp_items) - n
        unpaired_fs += len(fs_items) - n
        for i in range(n):
            e, it = fp_items[i], fs_items[i]
            vals = {
                "title": (fp_title(e), norm_plain(it.get("title"))),
                "link": (norm_link(e.get("link")), norm_link(it.get("url"))),
                "date": (fp_date(e), fs_date(it)),
            }
            for f in FIELDS:
                a, b = vals[f]
                if a == b:
                    agree[f] += 1
                else:
                    if f == "date":
                        a = "%s (%s)" % (a, e.get("published") or e.get("updated")) \
                            if a is not None else None
                        b = "%s (%s)" % (b, it.get("event_time")) if b is not None else None
                    lines.append("%s\t%d\t%s\tfeedparser=%s\tfinsent=%s"
                                 % (rel, i, f, short(a), short(b)))

    print("feedcompare: %s vs feedparser %s on %s" % (binary, feedparser.__version__, args.data))
    print("  documents compared              %5d   (skipped: %d)" % (docs, skipped_docs))
    print("    with items in both            %5d" % both)
    print("    with items in feedparser only %5d" % fp_only)
    print("    with items in finsent only    %5d" % fs_only)
    print("    with items in neither         %5d" % neither)
    print("    finsent parse errors          %5d" % fs_errors)
    print("  items paired (by index)         %5d   unpaired: feedparser %d, finsent %d"
          % (paired, unpaired_fp, unpaired_fs))
    print("  feedparser entries without title or text (left out): %d" % fp_empty)
    print("  agreement            agree / paired")
    rates = {}
    for f in FIELDS:
        rates[f] = agree[f] / paired if paired else 1.0
        print("    %-16s %8d / %-6d %s" % (f + "s", agree[f], paired, pct(agree[f], paired)))
    print("    %-16s %8d / %-6d %s   (documents; informational)"
          % ("encoding", enc_agree, enc_n, pct(enc_agree, enc_n)))
    if args.verbose:
        if doc_notes:
            print("\ndocuments:")
            for s in doc_notes:
                print("  " + s)
        if lines:
            print("\ndisagreements (file, index, field, feedparser, finsent):")
            for s in lines:
                print("  " + s)
    elif lines or doc_notes:
        print("  (-v lists %d disagreements and %d document notes)" % (len(lines), len(doc_notes)))

    if args.min_agreement is not None:
        x = args.min_agreement / 100.0 if args.min_agreement > 1 else args.min_agreement
        low = [f for f in FIELDS if rates[f] < x]
        if low or paired == 0:
            print("feedcompare: below --min-agreement %g: %s"
                  % (args.min_agreement, ", ".join(low) or "no items paired"))
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
