/*
 * cls_wordpiece: the BERT WordPiece tokenizer (Hugging Face BertTokenizer:
 * BasicTokenizer, then WordpieceTokenizer), text bytes in, token ids out.
 *
 * Design. A vocabulary (vocab.txt, one token per line, id = 0-based line
 * number) is loaded once into an immutable cls_wordpiece_t: one blob holding
 * every token string plus an open-addressing hash table built at load, so a
 * loaded tokenizer is read-only and shared by every thread. Encoding needs a
 * little scratch memory (the current word, bounded by the 100-code-point word
 * limit, never by the text length); it lives in a per-thread
 * cls_wordpiece_ws_t allocated once, so cls_wordpiece_encode allocates
 * nothing. Text is processed in one streaming pass and encoding stops
 * reading as soon as max_len tokens are certain, so long texts cost only
 * their first words.
 *
 * Behaviour (docs/tokenizer.md has the full description and the known
 * differences from Python):
 *   clean (drop U+0000, U+FFFD, Unicode C* controls except \t \n \r;
 *   whitespace and Zs -> space), CJK ideographs become separate words,
 *   split on whitespace (space, U+2028, U+2029), lower-case (full Unicode,
 *   incl. final sigma and U+0130) and/or strip accents (NFD, drop Mn),
 *   split on punctuation (Unicode P* and ASCII 33-47, 58-64, 91-96,
 *   123-126), greedy longest-match-first WordPiece with "##" continuations;
 *   a word over 100 code points, or one with no full match, is [UNK].
 *   Output is [CLS] pieces... [SEP], truncated to max_len tokens.
 *   Literal "[CLS]" etc. in the text are ordinary text, never special.
 *   Invalid UTF-8: each maximal invalid subsequence decodes to U+FFFD,
 *   which cleaning drops (as Python's bytes.decode(errors="replace")
 *   followed by BertTokenizer). Never an error, never a crash.
 */
#ifndef CLS_WORDPIECE_H
#define CLS_WORDPIECE_H

#include <stddef.h>
#include <stdint.h>

#include "core/core_error.h"

/* Words longer than this many code points (after normalisation) are [UNK]. */
#define CLS_WORDPIECE_MAX_WORD_CHARS 100
/* Longest accepted vocab.txt line, in bytes (without the line end). */
#define CLS_WORDPIECE_MAX_TOKEN_BYTES 200
/* Default sequence length (tokens including [CLS] and [SEP]). */
#define CLS_WORDPIECE_DEFAULT_MAX_LEN 128

typedef struct cls_wordpiece cls_wordpiece_t; /* immutable after load */
typedef struct cls_wordpiece_ws cls_wordpiece_ws_t; /* per-thread scratch */

typedef struct cls_wordpiece_opts {
    int do_lower_case;          /* 1: full Unicode lower-casing */
    int strip_accents;          /* -1: follow do_lower_case; 0: keep; 1: strip */
    int tokenize_chinese_chars; /* 1: every CJK ideograph is its own word */
    size_t max_len;             /* max tokens incl. [CLS]/[SEP]; >= 2 */
} cls_wordpiece_opts_t;

/* cls_wordpiece_opts_default fills opts with the bert-base-uncased settings:
 * do_lower_case 1, strip_accents -1, tokenize_chinese_chars 1, max_len 128. */
void cls_wordpiece_opts_default(cls_wordpiece_opts_t *opts);

/* cls_wordpiece_load reads the vocabulary at vocab_path with opts (NULL: the
 * defaults) and returns a new tokenizer in *out (the caller frees it with
 * cls_wordpiece_free). Errors, with details in err (may be NULL):
 *   CORE_ENOT_FOUND  the file does not exist; CORE_EIO  it cannot be read;
 *   CORE_EMODEL      empty file, empty line, invalid UTF-8 in a token,
 *                    duplicate token, missing [PAD]/[UNK]/[CLS]/[SEP];
 *   CORE_ETOO_LARGE  a line over CLS_WORDPIECE_MAX_TOKEN_BYTES, or more than
 *                    2^24 tokens;
 *   CORE_EINVAL      bad opts (max_len < 2); CORE_ENOMEM.
 * Lines end with "\n" or "\r\n"; a final line without newline counts. */
core_err_t cls_wordpiece_load(const char *vocab_path, const cls_wordpiece_opts_t *opts,
                              cls_wordpiece_t **out, char *err, size_t errlen);

/* cls_wordpiece_load_mem is cls_wordpiece_load from len bytes of vocab.txt
 * contents in memory (borrowed; copied). Same errors, minus the file ones. */
core_err_t cls_wordpiece_load_mem(const char *data, size_t len, const cls_wordpiece_opts_t *opts,
                                  cls_wordpiece_t **out, char *err, size_t errlen);

/* cls_wordpiece_load_dir loads model_dir/vocab.txt with the settings of
 * model_dir/tokenizer_config.json when that file exists (keys do_lower_case,
 * strip_accents (null/true/false), tokenize_chinese_chars, model_max_length;
 * other keys ignored; absent keys keep the defaults). max_len is
 * model_max_length (default 128), capped at max_position_embeddings when that
 * is non-zero. A malformed tokenizer_config.json or a key of the wrong type is
 * CORE_EMODEL; otherwise the errors of cls_wordpiece_load. */
core_err_t cls_wordpiece_load_dir(const char *model_dir, size_t max_position_embeddings,
                                  cls_wordpiece_t **out, char *err, size_t errlen);

/* cls_wordpiece_free releases wp; NULL is a no-op. No encode may be running. */
void cls_wordpiece_free(cls_wordpiece_t *wp);

/* cls_wordpiece_ws_new allocates the scratch memory one thread needs to
 * encode with wp (a few KiB, independent of text length). The workspace may
 * be used with any tokenizer; it is owned by the caller (free with
 * cls_wordpiece_ws_free) and used by one thread at a time. */
core_err_t cls_wordpiece_ws_new(const cls_wordpiece_t *wp, cls_wordpiece_ws_t **out);
void cls_wordpiece_ws_free(cls_wordpiece_ws_t *ws);

/* cls_wordpiece_encode tokenizes len bytes of text (any bytes; need not be
 * NUL-terminated or valid UTF-8) into ids: [CLS] pieces... [SEP], at most
 * min(max_len, max_ids) ids, the pieces truncated at the end. *n_ids gets the
 * count (>= 2). Allocates nothing. Any thread, with its own ws; wp is only
 * read. CORE_EINVAL when max_ids < 2 or an argument is NULL (text may be
 * NULL when len is 0). */
core_err_t cls_wordpiece_encode(const cls_wordpiece_t *wp, cls_wordpiece_ws_t *ws,
                                const char *text, size_t len, int32_t *ids, size_t max_ids,
                                size_t *n_ids);

/* Accessors; any thread. */
size_t cls_wordpiece_vocab_size(const cls_wordpiece_t *wp);
size_t cls_wordpiece_max_len(const cls_wordpiece_t *wp);
/* The options in effect (strip_accents resolved to 0 or 1). */
void cls_wordpiece_opts(const cls_wordpiece_t *wp, cls_wordpiece_opts_t *out);
/* cls_wordpiece_id: the id of token (NUL-terminated), or -1 if absent. */
int32_t cls_wordpiece_id(const cls_wordpiece_t *wp, const char *token);
/* cls_wordpiece_token: the token string of id (owned by wp), NULL if out of
 * range. */
const char *cls_wordpiece_token(const cls_wordpiece_t *wp, int32_t id);
/* Special token ids, always present in a loaded vocabulary. */
int32_t cls_wordpiece_pad_id(const cls_wordpiece_t *wp);
int32_t cls_wordpiece_unk_id(const cls_wordpiece_t *wp);
int32_t cls_wordpiece_cls_id(const cls_wordpiece_t *wp);
int32_t cls_wordpiece_sep_id(const cls_wordpiece_t *wp);

#endif
