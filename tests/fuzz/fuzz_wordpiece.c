/*
 * Fuzz target: the WordPiece tokenizer (classify/cls_wordpiece) and its
 * vocabulary loader.
 *
 * Input byte 0 chooses the mode: bit 7 set -> the rest is a vocab.txt given to
 * cls_wordpiece_load_mem (which must either load or fail cleanly; a loaded one
 * then encodes a fixed text). Otherwise bits 0-2 choose the options
 * (do_lower_case, strip_accents, tokenize_chinese_chars), bits 3-6 a max_len,
 * and the rest is text. Checked on every text: [CLS] first, [SEP] last, ids in
 * range, count within bounds, deterministic, and the short encoding a prefix
 * of the long one. The vocabulary is built in memory, or read from the file
 * named by $FINSENT_WORDPIECE_VOCAB (e.g. tests/data/vocab/bert-base-uncased.txt).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify/cls_wordpiece.h"

static const char mini_vocab[] =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"
    "a\nb\nc\ne\ni\nn\no\ns\nt\nx\n##a\n##b\n##c\n##e\n##i\n##n\n##o\n##s\n##t\n##x\n"
    "the\nstock\nfell\nrose\nto\nan\n##an\n##d\nand\n$\n%\n.\n,\n!\n'\n#\n-\n[\n]\n"
    "1\n2\n3\n##1\n##2\n##3\n12\n##12\n\xe2\x80\x99\n\xc2\xab\n\xc2\xbb\n\xe4\xb8\xad\n"
    "\xe6\x96\x87\n\xcf\x83\n\xcf\x82\n##\xcf\x83\n##\xcf\x82\n\xce\xb1\n##\xce\xb1\n"
    "\xc3\xa9\n##\xc3\xa9\ncaf\n##\xcc\x81\n\xd0\xb0\n##\xd0\xb0\n";

#define MAX_IDS 600

static cls_wordpiece_t *tok[8];
static cls_wordpiece_ws_t *ws;

static void setup(void)
{
    const char *path = getenv("FINSENT_WORDPIECE_VOCAB");
    char err[256];
    for (int k = 0; k < 8; k++) {
        cls_wordpiece_opts_t o;
        cls_wordpiece_opts_default(&o);
        o.do_lower_case = k & 1;
        o.strip_accents = (k & 2) ? -1 : !(k & 1);
        o.tokenize_chinese_chars = (k & 4) != 0;
        o.max_len = MAX_IDS;
        core_err_t rc = path ? cls_wordpiece_load(path, &o, &tok[k], err, sizeof err)
                             : cls_wordpiece_load_mem(mini_vocab, sizeof mini_vocab - 1, &o,
                                                      &tok[k], err, sizeof err);
        if (rc != CORE_OK) {
            fprintf(stderr, "fuzz_wordpiece: vocabulary: %s\n", err);
            abort();
        }
    }
    if (cls_wordpiece_ws_new(tok[0], &ws) != CORE_OK)
        abort();
}

static void check_text(const cls_wordpiece_t *wp, const char *text, size_t len, size_t short_len)
{
    static int32_t a[MAX_IDS], b[MAX_IDS], c[MAX_IDS];
    size_t na = 0, nb = 0, nc = 0;
    size_t vs = cls_wordpiece_vocab_size(wp);
    if (cls_wordpiece_encode(wp, ws, text, len, a, MAX_IDS, &na) != CORE_OK ||
        cls_wordpiece_encode(wp, ws, text, len, b, MAX_IDS, &nb) != CORE_OK ||
        cls_wordpiece_encode(wp, ws, text, len, c, short_len, &nc) != CORE_OK)
        abort();
    if (na < 2 || na > MAX_IDS || na != nb || memcmp(a, b, na * sizeof *a) != 0)
        abort();
    if (a[0] != cls_wordpiece_cls_id(wp) || a[na - 1] != cls_wordpiece_sep_id(wp))
        abort();
    for (size_t i = 0; i < na; i++)
        if (a[i] < 0 || (size_t)a[i] >= vs)
            abort();
    if (nc != (na < short_len ? na : short_len) || c[nc - 1] != cls_wordpiece_sep_id(wp) ||
        memcmp(a, c, (nc - 1) * sizeof *a) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ws)
        setup();
    if (size == 0)
        return 0;
    unsigned mode = data[0];
    const char *rest = (const char *)data + 1;
    size_t len = size - 1;
    if (mode & 0x80) {
        cls_wordpiece_t *wp = NULL;
        char err[256];
        if (cls_wordpiece_load_mem(rest, len, NULL, &wp, err, sizeof err) == CORE_OK) {
            static const char text[] = "Stocks fell 3.5%, the \xe4\xb8\xad caf\xc3\xa9 [CLS] ##x";
            check_text(wp, text, sizeof text - 1, 5);
            for (size_t id = 0; id < cls_wordpiece_vocab_size(wp); id++) {
                const char *t = cls_wordpiece_token(wp, (int32_t)id);
                if (!t || cls_wordpiece_id(wp, t) != (int32_t)id)
                    abort();
            }
        } else if (wp) {
            abort();
        }
        cls_wordpiece_free(wp);
        return 0;
    }
    check_text(tok[mode & 7], rest, len, 2 + ((mode >> 3) & 15));
    return 0;
}
