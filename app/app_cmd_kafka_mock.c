/*
 * finsent kafka-mock: librdkafka's in-memory mock cluster in the foreground,
 * for demos and tests without a Kafka installation. Prints the bootstrap
 * address as the first line on stdout, creates the topics asked for, and runs
 * until SIGINT or SIGTERM. Nothing is durable.
 *
 * --port: librdkafka 2.0.2's mock API (rd_kafka_mock_cluster_new) always
 * listens on ephemeral ports and offers no way to choose one. So --port P
 * opens a plain TCP forwarder on 127.0.0.1:P to the first mock broker, and
 * the printed bootstrap address is 127.0.0.1:P. Clients bootstrap through it
 * and then connect to the brokers' advertised (ephemeral, loopback) addresses
 * directly, so this only helps clients on the same host.
 *
 * Signals are blocked in every thread (librdkafka's included, as they inherit
 * the mask) and collected with sigwait by the main thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app/app.h"
#include "app/app_opts.h"

/* ---- the --port forwarder ------------------------------------------------- */

typedef struct fwd_conn {
    int a, b;
} fwd_conn;

static int pump(int from, int to)
{
    char buf[65536];
    ssize_t n = read(from, buf, sizeof buf);
    if (n <= 0)
        return -1;
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(to, buf + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        off += w;
    }
    return 0;
}

static void *fwd_conn_main(void *arg)
{
    fwd_conn *c = arg;
    struct pollfd p[2] = {{c->a, POLLIN, 0}, {c->b, POLLIN, 0}};
    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) && pump(c->a, c->b) < 0)
            break;
        if ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) && pump(c->b, c->a) < 0)
            break;
    }
    close(c->a);
    close(c->b);
    free(c);
    return NULL;
}

typedef struct fwd {
    int lfd;
    struct sockaddr_in target;
} fwd;

static void *fwd_main(void *arg)
{
    fwd *f = arg;
    for (;;) {
        int a = accept(f->lfd, NULL, NULL), b;
        fwd_conn *c;
        pthread_t t;
        if (a < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return NULL;
        }
        b = socket(AF_INET, SOCK_STREAM, 0);
        c = malloc(sizeof *c);
        if (b < 0 || !c || connect(b, (struct sockaddr *)&f->target, sizeof f->target) != 0) {
            close(a);
            if (b >= 0)
                close(b);
            free(c);
            continue;
        }
        c->a = a;
        c->b = b;
        if (pthread_create(&t, NULL, fwd_conn_main, c) != 0) {
            close(a);
            close(b);
            free(c);
            continue;
        }
        pthread_detach(t);
    }
}

/* start_forwarder listens on 127.0.0.1:port and forwards to host:port of the
 * first entry of bootstrap. Returns 0 on success. */
static int start_forwarder(fwd *f, int port, const char *bootstrap)
{
    struct sockaddr_in a;
    int one = 1, tport;
    char host[64];
    pthread_t t;

    memset(f, 0, sizeof *f);
    if (sscanf(bootstrap, "%63[^:]:%d", host, &tport) != 2)
        return -1;
    f->target.sin_family = AF_INET;
    f->target.sin_port = htons((uint16_t)tport);
    if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host,
                  &f->target.sin_addr) != 1)
        return -1;
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (f->lfd < 0)
        return -1;
    setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(f->lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(f->lfd, 64) != 0) {
        fprintf(stderr, "finsent kafka-mock: cannot listen on 127.0.0.1:%d: %s\n", port,
                strerror(errno));
        close(f->lfd);
        return -1;
    }
    if (pthread_create(&t, NULL, fwd_main, f) != 0) {
        close(f->lfd);
        return -1;
    }
    pthread_detach(t);
    return 0;
}

/* ---- command -------------------------------------------------------------- */

/* topics_check: every --topic is NAME or NAME:PARTITIONS (1..10000).
 * Returns 0, or -1 after saying which is not. */
static int topics_check(const app_list_t *topics)
{
    for (size_t i = 0; i < topics->n; i++) {
        const char *t = topics->v[i], *colon = strchr(t, ':');
        if (colon) {
            char *end;
            long p = strtol(colon + 1, &end, 10);
            if (*end || p < 1 || p > 10000 || colon == t) {
                fprintf(stderr, "finsent kafka-mock: bad --topic '%s' (want NAME[:PARTITIONS])\n",
                        t);
                return -1;
            }
        } else if (!t[0]) {
            fprintf(stderr, "finsent kafka-mock: empty --topic\n");
            return -1;
        }
    }
    return 0;
}

/* create_topics creates every --topic (NAME[:PARTITIONS], checked by
 * topics_check; the colon is cut off in place). 0, or -1 after saying
 * which failed. */
static int create_topics(rd_kafka_mock_cluster_t *mc, app_list_t *topics, int brokers)
{
    for (size_t i = 0; i < topics->n; i++) {
        char *colon = strchr(topics->v[i], ':');
        int parts = colon ? atoi(colon + 1) : 4;
        rd_kafka_resp_err_t e;
        if (colon)
            *colon = '\0';
        e = rd_kafka_mock_topic_create(mc, topics->v[i], parts, brokers < 3 ? brokers : 3);
        if (e) {
            fprintf(stderr, "finsent kafka-mock: topic %s: %s\n", topics->v[i],
                    rd_kafka_err2str(e));
            return -1;
        }
    }
    return 0;
}

/* serve runs until SIGINT or SIGTERM (blocked in set and taken with
 * sigwait); SIGUSR1 takes every broker down, SIGUSR2 brings them back: an
 * outage for tests and demos (rd_kafka_mock_broker_set_down/up). */
static void serve(rd_kafka_mock_cluster_t *mc, int brokers, const sigset_t *set)
{
    int sig;
    for (;;) {
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig != SIGUSR1 && sig != SIGUSR2)
            break;
        for (int b = 1; b <= brokers; b++) {
            if (sig == SIGUSR1)
                rd_kafka_mock_broker_set_down(mc, b);
            else
                rd_kafka_mock_broker_set_up(mc, b);
        }
        fprintf(stderr, "finsent kafka-mock: %s: all brokers %s\n",
                sig == SIGUSR1 ? "SIGUSR1" : "SIGUSR2", sig == SIGUSR1 ? "down" : "up");
    }
    fprintf(stderr, "finsent kafka-mock: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
}

int app_cmd_kafka_mock(int argc, char **argv)
{
    int brokers = 1, port = 0, rc;
    app_list_t topics = {0};
    rd_kafka_t *rk = NULL;
    rd_kafka_mock_cluster_t *mc = NULL;
    rd_kafka_conf_t *conf;
    char errstr[256];
    sigset_t set;
    fwd f;
    app_args_t args;
    const app_opt_t opts[] = {
        APP_INT("brokers", 0, "N", 1, 16, &brokers,
                "number of mock brokers (default 1, at most 16)"),
        APP_INT("port", 0, "P", 1, 65535, &port,
                "also accept bootstrap connections on 127.0.0.1:P (a TCP\n"
                "forwarder to the first broker: librdkafka 2.0.2 cannot\n"
                "choose the mock's ports; the brokers themselves stay on\n"
                "ephemeral loopback ports)"),
        APP_LIST("topic", "T[:P]", &topics,
                 "create topic T with P partitions (default 4); repeatable.\n"
                 "Other topics are created on first use."),
    };
    const app_cmd_spec_t spec = {
        .name = "finsent kafka-mock",
        .usage =
            "usage: finsent kafka-mock [--brokers N] [--port P] [--topic NAME[:PARTITIONS]]...\n\n"
            "Runs librdkafka's mock Kafka cluster in the foreground until SIGINT/SIGTERM.\n"
            "SIGUSR1 takes every broker down, SIGUSR2 brings them back (outage tests).\n"
            "It is NOT durable: everything lives in memory and is gone when it stops.\n"
            "Use it for demos and tests only, never as a real broker.\n\n",
        .footer =
            "\nThe first line on stdout is the bootstrap address (host:port[,host:port...]),\n"
            "e.g. for: finsent run --set kafka.brokers=$(...)\n",
        .opts = opts,
        .nopts = sizeof opts / sizeof opts[0],
        .col = 19,
    };

    if ((rc = app_opts_parse(&spec, argc, argv, &args)) != APP_OPTS_RUN)
        goto out;
    /* Validate topics before starting anything. */
    rc = APP_EXIT_USAGE;
    if (topics_check(&topics) != 0)
        goto out;
    rc = APP_EXIT_FAIL;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "finsent kafka-mock: %s\n", errstr);
        goto out;
    }
    mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        fprintf(stderr, "finsent kafka-mock: cannot create the mock cluster\n");
        goto out;
    }
    if (create_topics(mc, &topics, brokers) != 0)
        goto out;
    if (port) {
        if (start_forwarder(&f, port, rd_kafka_mock_cluster_bootstraps(mc)) != 0)
            goto out;
        printf("127.0.0.1:%d\n", port);
    } else {
        printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    }
    fflush(stdout);
    fprintf(stderr,
            "finsent kafka-mock: %d broker(s) at %s%s; in-memory, NOT durable; "
            "SIGINT/SIGTERM to stop\n",
            brokers, rd_kafka_mock_cluster_bootstraps(mc), port ? " (forwarded)" : "");
    for (size_t i = 0; i < topics.n; i++)
        fprintf(stderr, "finsent kafka-mock: topic %s\n", topics.v[i]);
    serve(mc, brokers, &set);
    rc = APP_EXIT_OK;
out:
    if (mc)
        rd_kafka_mock_cluster_destroy(mc);
    if (rk)
        rd_kafka_destroy(rk);
    app_list_cleanup(&topics);
    app_args_cleanup(&args);
    return rc;
}
