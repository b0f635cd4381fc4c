/* libFuzzer target: the safetensors header parser (cls_st_parse) on
 * arbitrary file images. Must never crash, leak or read out of bounds; when
 * it accepts, every tensor lies inside the image. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "classify/cls_safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cls_st_t *st = NULL;
    char err[256];

    if (cls_st_parse(data, size, &st, err, sizeof err) == CORE_OK) {
        for (size_t i = 0; i < cls_st_count(st); i++) {
            const cls_st_tensor_t *t = cls_st_at(st, i);
            const uint8_t *p = t->data;
            size_t n = (size_t)(t->end - t->begin);
            if (p < data || p + n > data + size)
                abort();
            if (n) {
                volatile uint8_t x = p[0];
                x = p[n - 1];
                (void)x;
            }
        }
        (void)cls_st_find(st, "bert.embeddings.word_embeddings.weight");
    }
    cls_st_free(st);
    return 0;
}
