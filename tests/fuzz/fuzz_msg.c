/* Fuzz target: the input message decoder and the tagged-item encoder. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/core_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    core_msg_limits_t lim = {.max_message_bytes = 4096, .max_text_bytes = 2048};
    core_item_t *item = NULL;
    char err[256];

    if (core_msg_decode((const char *)data, size, &lim, 1700000000000LL, &item, err,
                        sizeof err) == CORE_OK) {
        core_tagged_t *t = NULL;
        char *json = NULL;
        size_t len;
        core_item_add_cashtags(item);
        if (core_tagged_new(item, &t) == CORE_OK) {
            if (core_msg_encode_tagged(t, &json, &len) == CORE_OK)
                free(json);
            core_tagged_free(t);
        } else {
            core_item_free(item);
        }
    }
    return 0;
}
