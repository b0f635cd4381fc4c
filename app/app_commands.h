/* The finsent subcommands: X(name, function, one-line summary). Add a line
 * here and an app/app_cmd_<name>.c when an issue implements a command; no
 * placeholder commands. */
#define APP_COMMANDS(X)                                                                            \
    X("run", app_cmd_run, "the daemon: sources -> classifier -> Redis counts and alerts")        \
    X("classify", app_cmd_classify, "tag stdin messages (JSONL or text) with topic and sentiment")  \
    X("bench", app_cmd_bench, "classifier throughput on a model or a synthetic BERT shape")      \
    X("eval", app_cmd_eval, "accuracy, macro-F1 and confusion matrix on labelled TSV files")    \
    X("version", app_cmd_version, "print version, git commit, compiler and CPU features")         \
    X("alerts", app_cmd_alerts, "follow alerts live (and replay them with --since)")             \
    X("stats", app_cmd_stats, "print the rolling negative rates per scope and window from Redis") \
    X("config", app_cmd_config, "print the default config, or check and show a config file")       \
    X("backtest", app_cmd_backtest, "replay a JSONL history through the rules, report the alerts")   \
    X("feeds", app_cmd_feeds, "import OPML, check the configured feeds, parse a feed file")      \
    X("kafka-mock", app_cmd_kafka_mock, "run an in-memory mock Kafka cluster (demos/tests; not durable)")
