/* Fuzz target: the labels file of finsent backtest (app_bt_labels_parse).
 * Checks that a parse either fails with a message naming the file and a
 * line, or returns events whose scope is canonical (normalising it again
 * changes nothing), whose end is not before its start, and whose line
 * numbers increase and stay within the text. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/alr_read.h"
#include "app/app_backtest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    app_bt_label_t *l = NULL;
    size_t n = 0, lines = 1;
    char err[1200] = "";
    core_err_t rc = app_bt_labels_parse("fuzz", (const char *)data, size, &l, &n, err, sizeof err);

    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    if (rc != CORE_OK) {
        if (l || n || strncmp(err, "fuzz:", 5) != 0)
            abort();
        return 0;
    }
    if ((n == 0) != (l == NULL))
        abort();
    for (size_t i = 0; i < n; i++) {
        char canon[ALR_SCOPE_MAX], why[256];
        if (l[i].end_ms < l[i].start_ms || l[i].line < 1 || l[i].line > lines)
            abort();
        if (i > 0 && l[i].line <= l[i - 1].line)
            abort();
        if (alr_read_scope_normalize(l[i].scope, canon, sizeof canon, why, sizeof why) != CORE_OK ||
            strcmp(canon, l[i].scope) != 0)
            abort();
    }
    free(l);
    return 0;
}
