/*
 * th: helpers shared by the test suites (not part of finsent).
 *
 * th_main runs Check suites in fork mode (one crash is one failure) and
 * returns the process exit status: 0 all passed, 1 something failed, 77
 * (ctest's SKIP_RETURN_CODE) nothing failed but something was skipped.
 *
 * Skips. A test that cannot run on this machine (a program missing, a CPU
 * without an instruction set, no model in the tree) says so with TH_SKIP in
 * its body, never with a bare return: the skip is recorded with its reason
 * and the test returns (its teardown runs as usual). A runner that leaves
 * out a whole suite records it with th_skip_suite. The record travels from
 * Check's forked test processes to the runner through a file opened with
 * O_APPEND before the first fork (one write(2) per skip, so lines from
 * different processes never interleave); th_main reads it after the run,
 * lists every skip with its reason, and counts it as a skip, not a pass.
 *
 * Each skip names its need: what was missing ("redis", "openssl",
 * "python3", "model", "avx2", "avx512", "avx512-bf16", "avx512-vnni",
 * "amx", ...). FINSENT_REQUIRE=need,need,... (scripts/test sets it from what
 * the machine has) turns a skip for a listed need into a failure: on a
 * machine with redis-server, a suite skipped for want of Redis is broken.
 *
 * The process helpers start real servers
 * (redis-server, python3 http servers, the finsent binary) as children in
 * their own process group, on free loopback ports, and kill them at the end.
 */
#ifndef TH_H
#define TH_H

#include <check.h>
#include <stddef.h>
#include <sys/types.h>

/* th_main runs the n suites, prints every skip recorded (before or during
 * the run) and returns 0 when every test passed and none was skipped, 77
 * when none failed but some were skipped, 1 when one failed or a skip's
 * need is listed in FINSENT_REQUIRE. */
int th_main(Suite **suites, size_t n);

/* TH_SKIP(need, fmt, ...): in a test body (START_TEST), records that this
 * test did not run because need is missing, with the printf-style reason,
 * and returns from the test. */
#define TH_SKIP(need, ...)                                                                         \
    do {                                                                                           \
        th_skip_record(need, __func__, __VA_ARGS__);                                               \
        return;                                                                                    \
    } while (0)

/* th_skip_record records a skip of test (a Check test function's __func__;
 * the "_fn" Check appends is dropped) for want of need; TH_SKIP calls it.
 * Callable from a forked test process or from the runner. */
void th_skip_record(const char *need, const char *test, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* th_skip_suite: a runner leaves out suite (a name for the report) for want
 * of need; recorded like a skipped test. Call before th_main. */
void th_skip_suite(const char *need, const char *suite, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* th_required: 1 when need is listed in FINSENT_REQUIRE (comma-separated),
 * i.e. this machine is declared to have it and a skip for it is a failure. */
int th_required(const char *need);

/* th_urand: a float uniform in [lo, hi) from the xorshift64 generator
 * whose state is *state (nonzero; each test file keeps its own, so its
 * inputs do not depend on which other tests ran). */
float th_urand(unsigned long long *state, float lo, float hi);
/* th_urand_new: n such floats in a malloc'd array (asserts on failure; one
 * element when n is 0). */
float *th_urand_new(unsigned long long *state, size_t n, float lo, float hi);

/* th_free_port returns a TCP port on 127.0.0.1 that is free now, below the
 * ephemeral range, and reserved for this process (and its forks) until it
 * exits; -1 when none is found. */
int th_free_port(void);

/* th_tmpdir makes a fresh directory under $TMPDIR (or /tmp) and returns its
 * path in a static buffer of the calling process (asserts on failure, so
 * never NULL). */
const char *th_tmpdir(const char *tag);

/* th_spawn starts argv[0] (searched in PATH) with argv, stdout/stderr to
 * log_path (or inherited when NULL), in a new process group. Returns the pid
 * or -1. What th_kill has not reaped is killed when the process that
 * started it exits (a failed assertion leaves no server behind). */
pid_t th_spawn(char *const argv[], const char *log_path);

/* th_kill sends sig to the child's process group and reaps it. */
void th_kill(pid_t pid, int sig);

/* th_wait_port waits until something accepts TCP connections on
 * 127.0.0.1:port, up to timeout_ms. Returns 1 when it does. */
int th_wait_port(int port, int timeout_ms);

/* th_have_program: 1 when name is an executable in PATH. */
int th_have_program(const char *name);

/* th_data_path writes FINSENT_TEST_DATA "/" rel into buf and returns buf. */
const char *th_data_path(char *buf, size_t cap, const char *rel);

/* th_write_file writes len bytes to path (truncating). Returns 0 on success. */
int th_write_file(const char *path, const void *data, size_t len);

/* th_slurp reads a whole file into a malloc'd NUL-terminated string
 * (asserts on failure); *len (may be NULL) gets its length. */
char *th_slurp(const char *path, size_t *len);

/* th_rmtree removes a directory and everything under it (best effort; for
 * the temporary directories of tests). */
void th_rmtree(const char *dir);

#endif
