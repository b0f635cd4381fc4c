/* Fuzz target: the UTF-8 gate (core_utf8, core_item_set). Checks that the
 * repaired text is valid UTF-8 without NUL, that valid input comes back
 * unchanged, that repairing twice changes nothing, and that the gate's id
 * escaping leaves only valid UTF-8. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_item.h"
#include "core/core_utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    char *out = NULL, *again = NULL;
    size_t n = 0, bad = 0, n2 = 0, bad2 = 0;
    core_item_t *it = NULL;

    if (core_utf8_repair(s, size, &out, &n, &bad) != CORE_OK)
        return 0;
    if (!core_utf8_valid(out, n, NULL) || memchr(out, '\0', n) || strlen(out) != n)
        abort();
    if (core_utf8_valid(s, size, NULL) && !memchr(s, '\0', size) &&
        (bad != 0 || n != size || memcmp(out, s, size) != 0))
        abort();
    if (bad == 0 && (n != size || memcmp(out, s, size) != 0))
        abort();
    if (core_utf8_repair(out, n, &again, &n2, &bad2) != CORE_OK)
        abort();
    if (bad2 != 0 || n2 != n || memcmp(again, out, n) != 0)
        abort();
    free(again);
    free(out);

    if (core_item_new(&it) != CORE_OK)
        return 0;
    if (core_item_set(it, &it->id, s, size) == CORE_OK &&
        core_item_set(it, &it->text, s, size) == CORE_OK) {
        if (!core_utf8_valid(it->id, strlen(it->id), NULL) ||
            !core_utf8_valid(it->text, strlen(it->text), NULL))
            abort();
        if ((it->utf8_repaired == 0) != (core_utf8_valid(s, size, NULL) && !memchr(s, '\0', size)))
            abort();
    }
    core_item_free(it);
    return 0;
}
