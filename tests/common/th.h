/*
 * th: helpers shared by the test suites (not part of finsent).
 *
 * th_main runs Check suites in fork mode (one crash is one failure) and
 * returns the process exit status. The process helpers start real servers
 * (redis-server, python3 http servers, the finsent binary) as children in
 * their own process group, on free loopback ports, and kill them at the end.
 */
#ifndef TH_H
#define TH_H

#include <check.h>
#include <stddef.h>
#include <sys/types.h>

/* th_main runs the n suites and returns 0 when every test passed. */
int th_main(Suite **suites, size_t n);

/* th_free_port returns a TCP port on 127.0.0.1 that was free a moment ago. */
int th_free_port(void);

/* th_tmpdir makes a fresh directory under $TMPDIR (or /tmp) and returns its
 * path in a static buffer of the calling process. */
const char *th_tmpdir(const char *tag);

/* th_spawn starts argv[0] (searched in PATH) with argv, stdout/stderr to
 * log_path (or inherited when NULL), in a new process group. Returns the pid
 * or -1. */
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
