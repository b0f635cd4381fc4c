/*
 * th_redis: a real redis-server for tests, on a free loopback port in a
 * fresh temporary directory, optionally persistent (AOF with appendfsync
 * always, or RDB snapshots), listening on TCP and on the unix socket
 * `sock` in that directory. It can be killed (SIGKILL: a crash) or shut down
 * (SIGTERM: Redis' clean SHUTDOWN) and started again on the same port and
 * directory, so a test can check what survived.
 *
 * The server is a child process in its own process group; th_redis_stop
 * kills it and removes the directory. Talks to Redis with a raw PING only
 * (no hiredis dependency), so any suite can use it. Not thread-safe; use one
 * th_redis_t per test.
 */
#ifndef TH_REDIS_H
#define TH_REDIS_H

#include <sys/types.h>

typedef enum th_redis_mode {
    TH_REDIS_EPHEMERAL = 0, /* no persistence */
    TH_REDIS_AOF,           /* appendonly yes, appendfsync always */
    TH_REDIS_RDB            /* save 1 1 (snapshot every second with a change) */
} th_redis_mode_t;

typedef struct th_redis {
    int port;
    pid_t pid;
    th_redis_mode_t mode;
    char dir[512];
    char log[600];
    char sock[600]; /* unix socket the server also listens on */
    char bin[256];
} th_redis_t;

/* th_redis_binary: "redis-server" when PATH has it, else NULL; the tests
 * that need it then report themselves skipped (need "redis", th.h). */
const char *th_redis_binary(void);

/* th_redis_start starts a server (free port, new temp dir) and waits until
 * it answers PING. Returns 0 on success. */
int th_redis_start(th_redis_t *r, th_redis_mode_t mode);

/* th_redis_restart starts the server again on the same port and directory
 * (after a kill or shutdown) and waits for PONG (persisted data loaded). */
int th_redis_restart(th_redis_t *r);

/* th_redis_kill: SIGKILL, like a crash. */
void th_redis_kill(th_redis_t *r);

/* th_redis_shutdown: SIGTERM, which Redis handles as SHUTDOWN (flushes the
 * AOF / writes the snapshot, then exits). */
void th_redis_shutdown(th_redis_t *r);

/* th_redis_stop kills the server if running and removes its directory. */
void th_redis_stop(th_redis_t *r);

/* th_redis_ping: 1 when the server answers PONG now. */
int th_redis_ping(const th_redis_t *r);

#endif
