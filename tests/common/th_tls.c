/* th_tls: TLS fixtures and a TLS-only redis-server; see th_tls.h. */
#include "tests/common/th_tls.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/common/th.h"

#define START_TIMEOUT_MS 10000

/* The whole recipe in one shell run: CA, other CA, server and client
 * certificates. */
static const char RECIPE[] =
    "set -e; cd \"$1\"; umask 077;\n"
    "key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out \"$1\" "
    "2>/dev/null; }\n"
    "ca() { key $1.key; openssl req -x509 -new -key $1.key -out $1.crt -days 2 -subj \"/CN=$2\" "
    "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign; }\n"
    "leaf() { key $1.key; openssl req -new -key $1.key -out $1.csr -subj \"/CN=$2\";\n"
    "  printf '%s\\n' \"$3\" > $1.ext;\n"
    "  openssl x509 -req -in $1.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
    "-out $1.crt -extfile $1.ext 2>/dev/null; }\n"
    "ca ca finsent-test-ca; ca other finsent-other-ca\n"
    "leaf server localhost 'subjectAltName=DNS:localhost,IP:127.0.0.1\n"
    "extendedKeyUsage=serverAuth,clientAuth'\n"
    "leaf client finsent-client 'extendedKeyUsage=clientAuth'\n"
    "mkdir cadir; cp ca.crt cadir/; openssl rehash cadir 2>/dev/null || c_rehash cadir "
    ">/dev/null\n";

int th_tls_make(th_tls_t *t)
{
    const char *dir;
    char *argv[] = {"sh", "-c", (char *)RECIPE, "sh", NULL, NULL};
    char log[700];
    pid_t pid;
    int status = -1;

    memset(t, 0, sizeof *t);
    if (!th_have_program("openssl")) {
        fprintf(stderr, "th_tls: openssl not found in PATH\n");
        return -1;
    }
    dir = th_tmpdir("tls");
    if (!dir)
        return -1;
    snprintf(t->dir, sizeof t->dir, "%s", dir);
    snprintf(log, sizeof log, "%s/make.log", t->dir);
    argv[4] = t->dir;
    pid = th_spawn(argv, log);
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "th_tls: making certificates failed (see %s)\n", log);
        return -1;
    }
    snprintf(t->ca, sizeof t->ca, "%s/ca.crt", t->dir);
    snprintf(t->other_ca, sizeof t->other_ca, "%s/other.crt", t->dir);
    snprintf(t->server_crt, sizeof t->server_crt, "%s/server.crt", t->dir);
    snprintf(t->server_key, sizeof t->server_key, "%s/server.key", t->dir);
    snprintf(t->client_crt, sizeof t->client_crt, "%s/client.crt", t->dir);
    snprintf(t->client_key, sizeof t->client_key, "%s/client.key", t->dir);
    snprintf(t->ca_dir, sizeof t->ca_dir, "%s/cadir", t->dir);
    return 0;
}

void th_tls_free(th_tls_t *t)
{
    if (t->dir[0] && !getenv("TH_KEEP_TMP"))
        th_rmtree(t->dir);
    t->dir[0] = '\0';
}

static int launch(th_redis_t *r, const th_tls_t *t, const char *auth_clients)
{
    char port[16];
    char *argv[] = {r->bin,
                    "--port",
                    "0",
                    "--tls-port",
                    port,
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    r->dir,
                    "--daemonize",
                    "no",
                    "--protected-mode",
                    "no",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--tls-cert-file",
                    (char *)t->server_crt,
                    "--tls-key-file",
                    (char *)t->server_key,
                    "--tls-ca-cert-file",
                    (char *)t->ca,
                    "--tls-auth-clients",
                    (char *)auth_clients,
                    NULL};
    snprintf(port, sizeof port, "%d", r->port);
    r->pid = th_spawn(argv, r->log);
    if (r->pid < 0)
        return -1;
    for (int waited = 0; waited < START_TIMEOUT_MS; waited += 100) {
        if (th_wait_port(r->port, 100))
            return 0;
        if (waitpid(r->pid, NULL, WNOHANG) == r->pid) {
            r->pid = 0;
            return -1; /* exited: port taken, no TLS support, bad args */
        }
    }
    th_kill(r->pid, SIGKILL);
    r->pid = 0;
    return -1;
}

int th_redis_start_tls(th_redis_t *r, const th_tls_t *t, const char *auth_clients)
{
    const char *bin = th_redis_binary(), *dir;

    memset(r, 0, sizeof *r);
    if (!bin)
        return -1;
    snprintf(r->bin, sizeof r->bin, "%s", bin);
    dir = th_tmpdir("redis-tls");
    if (!dir)
        return -1;
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    snprintf(r->log, sizeof r->log, "%s/redis.log", r->dir);
    for (int attempt = 0; attempt < 5; attempt++) {
        r->port = th_free_port();
        if (r->port > 0 && launch(r, t, auth_clients) == 0)
            return 0;
    }
    return -1;
}
