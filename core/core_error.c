/* core_error: messages and names for the project error enum, generated from
 * the same X-macro list as the enum itself, and the formatted error setter. */
#include "core/core_error.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

static const char *const messages[] = {
#define CORE_ERR_MSG(name, msg) msg,
    CORE_ERRORS(CORE_ERR_MSG)
#undef CORE_ERR_MSG
};

static const char *const names[] = {
#define CORE_ERR_NAME(name, msg) #name,
    CORE_ERRORS(CORE_ERR_NAME)
#undef CORE_ERR_NAME
};

const char *core_strerror(core_err_t err)
{
    if ((int)err < 0 || err >= CORE_E__COUNT)
        return "unknown error";
    return messages[err];
}

const char *core_errname(core_err_t err)
{
    if ((int)err < 0 || err >= CORE_E__COUNT)
        return "UNKNOWN";
    return names[err];
}

void core_err_set(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}
