/*
 * finsent run: the daemon. Builds the configuration, the pipeline
 * (app_pipeline.c) and the HTTP endpoint (/metrics, /healthz), then waits for
 * signals on the main thread with sigtimedwait; every thread it starts has
 * the signals blocked. Threads a library started before main (OpenBLAS's
 * pthreads build starts its workers in a constructor) have them unblocked,
 * and a process-directed signal may land there while the main thread is
 * not yet in sigtimedwait: a handler forwards it to the main thread, where
 * it waits for sigtimedwait (before the handler, such a SIGTERM during the
 * start killed the daemon).
 *
 * SIGHUP: reload the alert rules and the feed list from the same file,
 * environment and flags, without dropping items (other settings need a
 * restart, which loses nothing either).
 *
 * SIGTERM / SIGINT: stop taking new items, finish and acknowledge those in
 * flight, commit, exit 0 within run.grace. A second signal during shutdown
 * does not shorten it (use SIGKILL for that; the next start replays). When
 * the only source is a JSONL file, the daemon stops by itself once every line
 * has been processed.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/app.h"
#include "app/app_api.h"
#include "app/app_http.h"
#include "app/app_opts.h"
#include "app/app_pipeline.h"
#include "core/core_log.h"
#include "core/core_metrics.h"
#include "core/core_time.h"
#include "core_version.h"

#define MOD "run"

typedef struct http_ctx {
    core_metrics_t *metrics;
    app_pipeline_t *pipeline;
} http_ctx;

static void serve_metrics(void *ctx, const app_http_request_t *req, app_http_response_t *resp)
{
    http_ctx *h = ctx;
    (void)req;
    app_pipeline_tick(h->pipeline);
    if (core_metrics_render(h->metrics, &resp->body, &resp->len) != CORE_OK) {
        app_http_respond_text(resp, 500, NULL, "out of memory\n");
        return;
    }
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

static void serve_health(void *ctx, const app_http_request_t *req, app_http_response_t *resp)
{
    http_ctx *h = ctx;
    char buf[16384]; /* fits the 40 feeds /healthz lists at most */
    (void)req;
    int ok = app_pipeline_health(h->pipeline, buf, sizeof buf);
    app_http_respond_text(resp, ok ? 200 : 503, "application/json", buf);
}

static int setup_logging(const core_config_t *cfg)
{
    core_log_level_t level;
    core_log_format_t format;
    if (core_log_parse_level(core_config_str(cfg, CORE_CFG_LOG_LEVEL), &level) != CORE_OK) {
        fprintf(stderr, "finsent run: log.level '%s' (%s): use debug, info, warn or error\n",
                core_config_str(cfg, CORE_CFG_LOG_LEVEL),
                core_config_origin(cfg, CORE_CFG_LOG_LEVEL));
        return -1;
    }
    if (core_log_parse_format(core_config_str(cfg, CORE_CFG_LOG_FORMAT), &format) != CORE_OK) {
        fprintf(stderr, "finsent run: log.format '%s' (%s): use text or json\n",
                core_config_str(cfg, CORE_CFG_LOG_FORMAT),
                core_config_origin(cfg, CORE_CFG_LOG_FORMAT));
        return -1;
    }
    core_log_setup(level, format);
    return 0;
}

static pthread_t main_thread;

/* forward_signal runs only in a thread that has the signal unblocked (one a
 * library started before main): it re-sends the signal to the main thread,
 * which has it blocked until sigtimedwait takes it. */
static void forward_signal(int sig)
{
    int saved = errno;
    pthread_kill(main_thread, sig);
    errno = saved;
}

/* wait_for_stop takes the signals in sigs on this (the main) thread until
 * SIGINT or SIGTERM, or until the input is finished: SIGHUP reloads the
 * rules and feeds from the configuration of args; every 200 ms the
 * pipeline's tick runs. */
static void wait_for_stop(app_pipeline_t *pipe, const sigset_t *sigs, const app_args_t *args)
{
    char err[1024];
    for (;;) {
        struct timespec ts = {0, 200 * 1000000L};
        siginfo_t si;
        int sig = sigtimedwait(sigs, &si, &ts);
        if (sig == SIGINT || sig == SIGTERM) {
            CORE_INFO(MOD, "%s: finishing in-flight items", sig == SIGINT ? "SIGINT" : "SIGTERM");
            return;
        }
        if (sig == SIGHUP) {
            core_config_t *fresh = app_args_config(args);
            if (!fresh) {
                CORE_ERROR(MOD, "SIGHUP: the configuration has errors (above); keeping the "
                                "running one");
            } else if (app_pipeline_reload(pipe, fresh, err, sizeof err) != CORE_OK) {
                CORE_ERROR(MOD, "SIGHUP: reload failed: %s; keeping the running configuration",
                           err);
                core_config_free(fresh);
            } else {
                CORE_INFO(MOD, "SIGHUP: alert rules and feeds reloaded");
            }
        }
        app_pipeline_tick(pipe);
        if (app_pipeline_finished(pipe)) {
            CORE_INFO(MOD, "input finished");
            return;
        }
    }
}

/* stop stops the pipeline within grace ms and says what was left. */
static void stop(app_pipeline_t *pipe, int64_t grace)
{
    int64_t t0 = core_time_mono_ms();
    size_t dropped = app_pipeline_stop(pipe, grace);
    if (dropped)
        CORE_WARN(MOD,
                  "stopped after %lld ms; %zu items were not acknowledged and will be "
                  "replayed",
                  (long long)(core_time_mono_ms() - t0), dropped);
    else
        CORE_INFO(MOD, "stopped after %lld ms; every accepted item was acknowledged",
                  (long long)(core_time_mono_ms() - t0));
}

/* start_http serves the dashboard, its API, /metrics and /healthz on
 * http.listen (nothing when it is empty). 0, or -1 after logging why. */
static int start_http(const core_config_t *cfg, http_ctx *hctx, app_http_t **http, app_api_t **api)
{
    char err[1024];
    if (!core_config_str(cfg, CORE_CFG_HTTP_LISTEN)[0])
        return 0;
    if (app_http_new_config(cfg, http, err, sizeof err) != CORE_OK ||
        app_http_route_area(*http, APP_HTTP_METRICS, "/metrics", serve_metrics, hctx) != CORE_OK ||
        app_http_route_area(*http, APP_HTTP_HEALTH, "/healthz", serve_health, hctx) != CORE_OK ||
        app_api_register(*http, cfg, api, err, sizeof err) != CORE_OK ||
        app_http_start(*http, err, sizeof err) != CORE_OK) {
        CORE_ERROR(MOD, "cannot start: %s", err);
        return -1;
    }
    if (app_http_ops_port(*http))
        CORE_INFO(MOD, "HTTP on port %d: dashboard /, /api/*; on port %d: /metrics, /healthz",
                  app_http_port(*http), app_http_ops_port(*http));
    else
        CORE_INFO(MOD, "HTTP on port %d: dashboard /, /api/*, /metrics, /healthz",
                  app_http_port(*http));
    return 0;
}

static const char run_usage[] =
    "usage: finsent run [-c FILE] [--set section.key=value ...] [--jsonl FILE|-] [--stdout]\n"
    "\n"
    "The daemon: reads items from Kafka (kafka.brokers) and/or a JSONL file or stdin\n"
    "(input.jsonl), classifies them in batches, counts them in Redis, evaluates the\n"
    "alert rules, and acknowledges each item to its source once its counts are in Redis.\n"
    "\n";

static const char run_footer[] =
    "\n"
    "HTTP (http.listen, default 127.0.0.1:9464): the dashboard at /, its read API\n"
    "/api/rates /api/series /api/alerts /api/recent /api/explain, /metrics\n"
    "(Prometheus), /healthz. http.ops_listen moves /metrics and /healthz to an address\n"
    "of their own; http.auth_*_file and http.metrics_auth_*_file require credentials;\n"
    "http.tls_cert and http.tls_key serve HTTPS (docs/security.md).\n"
    "Signals: SIGTERM/SIGINT finish in-flight items and exit 0 within run.grace;\n"
    "SIGHUP reloads the alert rules and feeds.\n";

int app_cmd_run(int argc, char **argv)
{
    char err[1024];
    int rc;
    core_config_t *cfg = NULL;
    core_metrics_t *metrics = NULL;
    app_pipeline_t *pipe = NULL;
    app_http_t *http = NULL;
    app_api_t *api = NULL;
    http_ctx hctx;
    sigset_t sigs;
    const char *root;
    app_args_t args;
    const app_opt_t opts[] = {
        APP_CONFIG_ROW(&args, "configuration file (see `finsent config --defaults`)"),
        APP_SET_ROW("override a key (repeatable); FINSENT_<SECTION>_<KEY> also works"),
        APP_KEY("jsonl", "FILE", "input.jsonl", NULL,
                "read input messages from FILE ('-' for stdin); same as\n"
                "--set input.jsonl=FILE. With no Kafka, run exits when done."),
        APP_KEY_FLAG("stdout", "run.stdout",
                     "also print each tagged item as a JSON line (run.stdout)"),
    };
    const app_cmd_spec_t spec = {
        .name = "finsent run",
        .usage = run_usage,
        .footer = run_footer,
        .opts = opts,
        .nopts = sizeof opts / sizeof opts[0],
        .col = 21,
    };

    if ((rc = app_opts_parse(&spec, argc, argv, &args)) != APP_OPTS_RUN)
        goto out;
    rc = APP_EXIT_FAIL;
    if (!(cfg = app_args_config(&args)))
        goto out;
    /* Every configuration check first (the same as `finsent config -c`), so
     * a bad setting fails here, before a thread, a socket or the model. */
    if (app_config_validate(cfg, err, sizeof err) != CORE_OK) {
        fprintf(stderr, "%s: config error: %s\n", app_argv0, err);
        goto out;
    }
    if (setup_logging(cfg) != 0)
        goto out;
    if ((root = app_root_warning(geteuid())) != NULL)
        CORE_WARN(MOD, "%s", root);

    /* Signals are taken by sigtimedwait below: block them before any thread
     * starts so every thread inherits the mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    {
        static const int fwd[] = {SIGINT, SIGTERM, SIGHUP};
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = forward_signal;
        sa.sa_mask = sigs;
        main_thread = pthread_self();
        for (size_t i = 0; i < sizeof fwd / sizeof fwd[0]; i++)
            sigaction(fwd[i], &sa, NULL);
    }

    if (core_metrics_new(&metrics) != CORE_OK)
        goto out;
    if (app_pipeline_new(cfg, metrics, &pipe, err, sizeof err) != CORE_OK) {
        CORE_ERROR(MOD, "cannot start: %s", err);
        goto out;
    }
    hctx.metrics = metrics;
    hctx.pipeline = pipe;
    if (start_http(cfg, &hctx, &http, &api) != 0)
        goto out;
    if (app_pipeline_start(pipe, err, sizeof err) != CORE_OK) {
        CORE_ERROR(MOD, "cannot start: %s", err);
        app_pipeline_stop(pipe, 0);
        goto out;
    }
    CORE_INFO(MOD, "finsent %s (%s) running", FINSENT_VERSION, FINSENT_GIT_COMMIT);

    wait_for_stop(pipe, &sigs, &args);
    stop(pipe, core_config_int(cfg, CORE_CFG_RUN_GRACE));
    rc = APP_EXIT_OK;
out:
    app_http_free(http);
    app_api_free(api);
    app_pipeline_free(pipe);
    core_metrics_free(metrics);
    core_config_free(cfg);
    app_args_cleanup(&args);
    return rc;
}
