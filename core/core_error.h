/*
 * core_error: the project's one error enum.
 *
 * Every fallible function in finsent returns a core_err_t. The codes and their
 * messages come from the single X-macro list below, so the enum and
 * core_strerror() can never disagree. Foreign error codes (errno, librdkafka,
 * curl, hiredis) are translated into these at the adapter that calls the
 * library; details a code cannot carry go into an error string owned by the
 * caller or the long-lived handle.
 */
#ifndef CORE_ERROR_H
#define CORE_ERROR_H

#include <stddef.h>

#define CORE_ERRORS(X)                                                     \
    X(OK, "success")                                                       \
    X(NOMEM, "out of memory")                                              \
    X(INVAL, "invalid argument")                                           \
    X(IO, "input/output error")                                            \
    X(NOT_FOUND, "not found")                                              \
    X(PARSE, "malformed input")                                            \
    X(JSON, "invalid JSON")                                                \
    X(UTF8, "invalid UTF-8")                                               \
    X(NOT_OBJECT, "JSON value is not an object")                           \
    X(EMPTY_TEXT, "message has no text")                                   \
    X(TOO_LARGE, "input exceeds the size limit")                           \
    X(BAD_TIME, "unrecognised timestamp")                                  \
    X(BAD_FIELD, "field has the wrong type")                               \
    X(CONFIG, "configuration error")                                       \
    X(TIMEOUT, "timed out")                                                \
    X(CLOSED, "closed")                                                    \
    X(FULL, "full")                                                        \
    X(UNSUPPORTED, "not supported")                                        \
    X(MODEL, "invalid model")                                              \
    X(NET, "network error")                                                \
    X(HTTP, "HTTP error")                                                  \
    X(REDIS, "Redis error")                                                \
    X(AUTH, "authentication refused")                                      \
    X(KAFKA, "Kafka error")                                                \
    X(AGAIN, "try again")                                                  \
    X(INTERNAL, "internal error")

typedef enum core_err {
#define CORE_ERR_ENUM(name, msg) CORE_E##name,
    CORE_ERRORS(CORE_ERR_ENUM)
#undef CORE_ERR_ENUM
        CORE_E__COUNT
} core_err_t;

#define CORE_OK CORE_EOK

/* core_strerror returns the static message of an error code ("unknown error"
 * for values outside the enum). Any thread. */
const char *core_strerror(core_err_t err);

/* core_errname returns the code's short name ("PARSE"), used as a metrics
 * label and in JSON logs. Any thread. */
const char *core_errname(core_err_t err);

/* core_err_set writes a printf-style message into the caller's error buffer
 * err of errlen bytes, truncated to fit (NULL or errlen 0: nothing is
 * written). The one formatted error setter of the tree, for functions that
 * take (char *err, size_t errlen). Any thread. */
void core_err_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
