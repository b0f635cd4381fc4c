/* Fuzz target: the INI config loader, durations, sizes and timestamps. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_config.h"
#include "core/core_time.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    core_config_t *cfg = NULL;
    char err[512];
    int64_t v;

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (core_config_new(&cfg) == CORE_OK) {
        core_config_load_string(cfg, "fuzz.conf", text, err, sizeof err);
        core_config_set(cfg, text, err, sizeof err);
        core_config_free(cfg);
    }
    core_config_parse_duration(text, &v);
    core_config_parse_size(text, &v);
    core_time_parse_any(text, &v);
    free(text);
    return 0;
}
