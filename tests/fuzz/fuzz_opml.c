/* Fuzz target: the OPML reader and import planner (ing_opml). Checks that
 * whatever the planner accepts is written as sections that load back with
 * core_config, one per imported outline, each with its URL unchanged and a
 * name within ING_OPML_NAME_MAX. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_config.h"
#include "ingest/ing_feed.h"
#include "ingest/ing_opml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    ing_opml_t *doc = NULL;
    ing_opml_entry_t *plan = NULL;
    core_config_t *cfg = NULL;
    char err[512], *text = NULL;
    size_t len = 0, imported = 0;
    FILE *mem;

    if (!init) {
        ing_feed_init();
        init = 1;
    }
    if (ing_opml_parse((const char *)data, size, &doc, err, sizeof err) != CORE_OK)
        return 0;
    if (ing_opml_plan(doc, NULL, &plan) != CORE_OK)
        abort();
    mem = open_memstream(&text, &len);
    if (!mem || ing_opml_write(mem, plan, doc->n) != CORE_OK || fclose(mem) != 0)
        abort();
    if (core_config_new(&cfg) != CORE_OK ||
        core_config_load_string(cfg, "fuzz", text, err, sizeof err) != CORE_OK)
        abort();
    for (size_t i = 0; i < doc->n; i++) {
        if (plan[i].verdict != ING_OPML_IMPORT)
            continue;
        imported++;
        if (strlen(plan[i].name) > ING_OPML_NAME_MAX)
            abort();
        if (strcmp(core_config_inst_str(cfg, CORE_CFG_FEED_URL, plan[i].name),
                   doc->items[i].url) != 0)
            abort();
    }
    if (core_config_instance_count(cfg, "feed") != imported)
        abort();
    core_config_free(cfg);
    free(text);
    free(plan);
    ing_opml_free(doc);
    return 0;
}
