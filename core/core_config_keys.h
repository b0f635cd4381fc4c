/*
 * core_config_keys: the one table of every configuration key.
 *
 * X(id, section, key, type, default, min, max, help)
 *   id:      the key's name in code: core_config.h generates CORE_CFG_<id>
 *            (e.g. CORE_CFG_KAFKA_COMMIT_INTERVAL) from it, so a misspelled
 *            key does not compile. It is SECTION_KEY in upper case, the
 *            template's kind for "feed.*" and "rule.*" (FEED_URL); a test
 *            checks every row.
 *   section: an INI section; "feed.*" and "rule.*" are templates for named
 *            instance sections such as [feed.reuters] or [rule.neg_spike].
 *   type:    STR, INT, BOOL, DOUBLE, DURATION (ms), SIZE (bytes), LIST
 *            (comma-separated strings).
 *   min/max: bounds for INT, DOUBLE, DURATION (ms) and SIZE (bytes).
 * `finsent config --defaults` prints this table as a commented config file.
 * The [kafka] section also accepts any librdkafka property (a key containing
 * a dot, e.g. security.protocol); those are passed to librdkafka as they are.
 */
#define CORE_CONFIG_KEYS(X)                                                                        \
    X(LOG_LEVEL, "log", "level", STR, "info", 0, 0, "minimum level: debug, info, warn, error")     \
    X(LOG_FORMAT, "log", "format", STR, "text", 0, 0,                                              \
      "text or json (one JSON object per line on stderr)")                                         \
                                                                                                   \
    X(INPUT_MAX_MESSAGE_BYTES, "input", "max_message_bytes", SIZE, "1MiB", 16, 64.0 * 1048576,     \
      "largest accepted message (Kafka value, JSONL line); larger ones are rejected")             \
    X(INPUT_MAX_TEXT_BYTES, "input", "max_text_bytes", SIZE, "64KiB", 16, 16.0 * 1048576,          \
      "largest accepted title+text of one item")                                                   \
    X(INPUT_JSONL, "input", "jsonl", STR, "", 0, 0,                                                \
      "JSONL file to read items from ('-' for stdin; empty: none)")                                \
                                                                                                   \
    X(KAFKA_BROKERS, "kafka", "brokers", STR, "", 0, 0,                                            \
      "bootstrap servers host:port,...; empty disables Kafka")                                     \
    X(KAFKA_GROUP, "kafka", "group", STR, "finsent", 0, 0, "consumer group id")                    \
    X(KAFKA_TOPICS, "kafka", "topics", LIST, "news", 0, 0, "topics to consume")                    \
    X(KAFKA_MAX_MESSAGE_BYTES, "kafka", "max_message_bytes", SIZE, "1000000", 16, 64.0 * 1048576,  \
      "values larger than this are dead-lettered (default: Kafka's own message limit)")           \
    X(KAFKA_DEAD_LETTER_TOPIC, "kafka", "dead_letter_topic", STR, "", 0, 0,                        \
      "topic for rejected messages (empty: none)")                                                 \
    X(KAFKA_OUTPUT_TOPIC, "kafka", "output_topic", STR, "", 0, 0,                                  \
      "topic for tagged items (empty: none)")                                                      \
    X(KAFKA_COMMIT_INTERVAL, "kafka", "commit_interval", DURATION, "5s", 100, 3600000,             \
      "how often stored offsets are committed")                                                    \
    X(KAFKA_REVOKE_TIMEOUT, "kafka", "revoke_timeout", DURATION, "10s", 0, 600000,                 \
      "on rebalance, how long to wait for in-flight items of revoked partitions")                  \
                                                                                                   \
    X(RSS_CONNECT_TIMEOUT, "rss", "connect_timeout", DURATION, "10s", 100, 600000,                 \
      "TCP/TLS connect timeout per fetch")                                                         \
    X(RSS_TIMEOUT, "rss", "timeout", DURATION, "30s", 100, 3600000,                                \
      "total time allowed per fetch")                                                              \
    X(RSS_MAX_BODY, "rss", "max_body", SIZE, "8MiB", 1024, 1024.0 * 1048576,                       \
      "largest feed body; larger aborts")                                                          \
    X(RSS_MAX_REDIRECTS, "rss", "max_redirects", INT, "5", 0, 50, "redirects followed per fetch")  \
    X(RSS_INTERVAL, "rss", "interval", DURATION, "5m", 1000, 86400000,                             \
      "default poll interval of a feed")                                                           \
    X(RSS_BACKOFF_MAX, "rss", "backoff_max", DURATION, "1h", 1000, 86400000,                       \
      "cap of the per-feed error backoff")                                                         \
    X(RSS_STATE_FILE, "rss", "state_file", STR, "", 0, 0,                                          \
      "seen-items file when Redis is not configured")                                              \
    X(RSS_SEEN_STORE, "rss", "seen_store", STR, "auto", 0, 0,                                      \
      "where seen feed items persist: auto (state_file if set, else redis), redis, file, memory") \
    X(RSS_SEEN_TTL, "rss", "seen_ttl", DURATION, "30d", 60000, 31536000000.0,                      \
      "how long a seen feed item is remembered")                                                   \
    X(RSS_UNHEALTHY_POLLS, "rss", "unhealthy_polls", INT, "3", 1, 1000,                            \
      "/healthz lists a feed failing or empty for this many polls in a row")                     \
    X(FEED_URL, "feed.*", "url", STR, "", 0, 0, "feed URL (http or https)")                        \
    X(FEED_INTERVAL, "feed.*", "interval", DURATION, "", 1000, 86400000,                           \
      "poll interval (default: rss.interval)")                                                     \
    X(FEED_SOURCE, "feed.*", "source", STR, "", 0, 0, "source name (default: the section name)")   \
                                                                                                   \
    X(CLASSIFY_MODEL, "classify", "model", STR, "", 0, 0,                                          \
      "model directory (default: the shipped model)")                                              \
    X(CLASSIFY_TOPIC_MODEL, "classify", "topic_model", STR, "", 0, 0,                              \
      "separate topic model directory (optional)")                                                 \
    X(CLASSIFY_SENTIMENT_MODEL, "classify", "sentiment_model", STR, "", 0, 0,                      \
      "separate sentiment model directory (optional)")                                             \
    X(CLASSIFY_BATCH, "classify", "batch", INT, "32", 1, 1024, "items per classifier batch")       \
    X(CLASSIFY_MAX_WAIT, "classify", "max_wait", DURATION, "50ms", 0, 60000,                       \
      "longest wait to fill a batch")                                                              \
    X(CLASSIFY_ADAPTIVE_WAIT, "classify", "adaptive_wait", BOOL, "true", 0, 0,                     \
      "scale the wait to fill a batch by the classifier's busy share (light load: close at once)") \
    X(CLASSIFY_THREADS, "classify", "threads", INT, "2", 1, 256,                                   \
      "classifier compute threads (OpenBLAS runs 1 inside each)")                                  \
    X(CLASSIFY_MAX_SEQ, "classify", "max_seq", INT, "128", 8, 4096,                                \
      "tokens per item, [CLS] and [SEP] included")                                                 \
    X(CLASSIFY_PRECISION, "classify", "precision", STR, "auto", 0, 0,                              \
      "dense layers: auto (fastest native path the model allows), fp32, bf16 or int8")           \
                                                                                                   \
    X(REDIS_HOST, "redis", "host", STR, "127.0.0.1", 0, 0, "Redis host")                           \
    X(REDIS_PORT, "redis", "port", INT, "6379", 1, 65535, "Redis port")                            \
    X(REDIS_SOCKET, "redis", "socket", STR, "", 0, 0, "unix socket path (overrides host/port)")    \
    X(REDIS_USER, "redis", "user", STR, "", 0, 0,                                                  \
      "ACL user (Redis 6+) for AUTH; empty: the default user")                                     \
    X(REDIS_PASSWORD, "redis", "password", STR, "", 0, 0, "AUTH password (empty: none)")           \
    X(REDIS_DB, "redis", "db", INT, "0", 0, 1000, "database number")                               \
    X(REDIS_TLS, "redis", "tls", BOOL, "false", 0, 0,                                              \
      "TLS to Redis, with certificate verification")                                               \
    X(REDIS_TLS_CA_FILE, "redis", "tls_ca_file", STR, "", 0, 0,                                    \
      "CA bundle (PEM) to verify Redis with (empty: system store)")                                \
    X(REDIS_TLS_CA_DIR, "redis", "tls_ca_dir", STR, "", 0, 0,                                      \
      "hashed CA directory (openssl rehash) to verify Redis with")                                 \
    X(REDIS_TLS_CERT, "redis", "tls_cert", STR, "", 0, 0,                                          \
      "client certificate (PEM) for tls-auth-clients")                                             \
    X(REDIS_TLS_KEY, "redis", "tls_key", STR, "", 0, 0,                                            \
      "private key (PEM, no passphrase) of tls_cert")                                              \
    X(REDIS_TLS_SERVER_NAME, "redis", "tls_server_name", STR, "", 0, 0,                            \
      "name the certificate must carry; SNI (empty: redis.host)")                                  \
    X(REDIS_PREFIX, "redis", "prefix", STR, "finsent:", 0, 0, "prefix of every key and channel")   \
    X(REDIS_SENTINELS, "redis", "sentinels", LIST, "", 0, 0,                                       \
      "Redis Sentinels host:port,...: find the primary through them (empty: redis.host)")          \
    X(REDIS_MASTER_NAME, "redis", "master_name", STR, "", 0, 0,                                    \
      "the primary's name in Sentinel (with redis.sentinels)")                                     \
    X(REDIS_SENTINEL_USER, "redis", "sentinel_user", STR, "", 0, 0,                                \
      "ACL user for the sentinels (empty: default user)")                                          \
    X(REDIS_SENTINEL_PASSWORD, "redis", "sentinel_password", STR, "", 0, 0,                        \
      "AUTH password for the sentinels (empty: none)")                                             \
    X(REDIS_WAIT_REPLICAS, "redis", "wait_replicas", INT, "0", 0, 64,                              \
      "after each batch, WAIT until this many replicas have it before acknowledging (0: off)")    \
    X(REDIS_WAIT_TIMEOUT, "redis", "wait_timeout", DURATION, "1s", 10, 600000,                     \
      "how long one WAIT waits; a shortfall replays the batch")                                    \
    X(REDIS_CONNECT_TIMEOUT, "redis", "connect_timeout", DURATION, "2s", 10, 600000,               \
      "connect timeout")                                                                           \
    X(REDIS_COMMAND_TIMEOUT, "redis", "command_timeout", DURATION, "5s", 10, 600000,               \
      "command timeout")                                                                           \
    X(REDIS_RECONNECT_MAX, "redis", "reconnect_max", DURATION, "30s", 10, 3600000,                 \
      "cap of the reconnect backoff")                                                              \
    X(REDIS_RETENTION, "redis", "retention", DURATION, "26h", 60000, 31536000000.0,                \
      "minute buckets kept; items older than this are not counted")                                \
    X(REDIS_HOURLY_RETENTION, "redis", "hourly_retention", DURATION, "8d", 3600000, 31536000000.0, \
      "hourly roll-ups finsent:h:* kept (the baselines of surge and volume rules)")              \
    X(REDIS_SEEN_TTL, "redis", "seen_ttl", DURATION, "7d", 60000, 31536000000.0,                   \
      "how long an item id is remembered for deduplication (longer than any replay)")             \
    X(REDIS_FUTURE_SKEW, "redis", "future_skew", DURATION, "5m", 0, 86400000,                      \
      "items further in the future are not counted")                                               \
    X(REDIS_WINDOWS, "redis", "windows", LIST, "5m,15m,1h", 0, 0,                                  \
      "rolling windows kept in finsent:rate:*")                                                    \
    X(REDIS_RECENT_MAX, "redis", "recent_max", INT, "1000", 1, 1000000,                            \
      "length cap of finsent:recent")                                                              \
    X(REDIS_ALERTS_LOG_MAX, "redis", "alerts_log_max", INT, "10000", 1, 10000000,                  \
      "length cap of finsent:alerts:log")                                                          \
                                                                                                   \
    X(RULE_SCOPE, "rule.*", "scope", STR, "topic", 0, 0,                                           \
      "all, topic (each topic), entity (each ticker), topic:NAME or entity:TICKER")                \
    X(RULE_WINDOW, "rule.*", "window", DURATION, "15m", 60000, 86400000,                           \
      "window the rate is taken over")                                                             \
    X(RULE_THRESHOLD, "rule.*", "threshold", DOUBLE, "0.5", 0, 1,                                  \
      "fire when neg_rate (or its bound) reaches this")                                            \
    X(RULE_CLEAR, "rule.*", "clear", DOUBLE, "0.4", 0, 1,                                          \
      "resolve when it falls below this (hysteresis)")                                             \
    X(RULE_MIN_COUNT, "rule.*", "min_count", INT, "20", 1, 100000000,                              \
      "items needed in the window")                                                                \
    X(RULE_FOR, "rule.*", "for", DURATION, "0s", 0, 86400000,                                      \
      "how long the condition must hold before firing")                                            \
    X(RULE_COOLDOWN, "rule.*", "cooldown", DURATION, "15m", 0, 86400000,                           \
      "no re-fire sooner than this after resolving")                                               \
    X(RULE_BASIS, "rule.*", "basis", STR, "rate", 0, 0,                                            \
      "rate, wilson (lower Wilson bound of neg_rate), surge (share above the scope's baseline) "  \
      "or volume (negatives above the baseline's Poisson rate)")                                 \
    X(RULE_CONFIDENCE, "rule.*", "confidence", DOUBLE, "0.95", 0.5, 0.9999,                        \
      "confidence of the Wilson bound, the surge lift's bound, or the volume test")               \
    X(RULE_BASELINE, "rule.*", "baseline", DURATION, "24h", 3600000, 604800000,                    \
      "surge/volume: trailing baseline before the window, whole hours (up to 7d)")               \
    X(RULE_BASELINE_MIN_COUNT, "rule.*", "baseline_min_count", INT, "20", 0, 100000000,            \
      "surge/volume: items the baseline needs; with fewer, see fallback")                        \
    X(RULE_FALLBACK, "rule.*", "fallback", STR, "silent", 0, 0,                                    \
      "surge/volume without enough baseline: silent, or threshold (the wilson rule)")            \
    X(RULE_MIN_LIFT, "rule.*", "min_lift", DOUBLE, "0.15", 0, 1,                                   \
      "surge: fire when the lower bound of share - baseline share reaches this")                 \
    X(RULE_CLEAR_LIFT, "rule.*", "clear_lift", DOUBLE, "0.05", 0, 1,                               \
      "surge: resolve when that bound falls below this")                                           \
    X(RULE_MIN_RATIO, "rule.*", "min_ratio", DOUBLE, "3", 1, 1000000,                              \
      "volume: fire when negatives / expected reaches this (and the Poisson test passes)")       \
    X(RULE_CLEAR_RATIO, "rule.*", "clear_ratio", DOUBLE, "1.5", 1, 1000000,                        \
      "volume: resolve when negatives / expected falls below this")                               \
                                                                                                   \
    X(ENTITIES_WATCHLIST, "entities", "watchlist", STR, "", 0, 0,                                  \
      "watch-list file: TICKER<TAB>name,alias,... per line")                                       \
    X(ENTITIES_CASHTAGS, "entities", "cashtags", BOOL, "true", 0, 0,                               \
      "take $TICKER cashtags as entities")                                                         \
                                                                                                   \
    X(HTTP_LISTEN, "http", "listen", STR, "127.0.0.1:9464", 0, 0,                                  \
      "address of /metrics, /healthz and the API (empty: off)")                                    \
    X(HTTP_OPS_LISTEN, "http", "ops_listen", STR, "", 0, 0,                                        \
      "separate address for /metrics and /healthz only, with its own connections (empty: on listen)") \
    X(HTTP_MAX_CONNECTIONS, "http", "max_connections", INT, "256", 1, 10000,                       \
      "open connections per listener; more are closed at once")                                    \
    X(HTTP_PER_IP_CONNECTIONS, "http", "per_ip_connections", INT, "32", 0, 10000,                  \
      "open connections per client address and listener (0: no limit)")                          \
    X(HTTP_REQUEST_TIMEOUT, "http", "request_timeout", DURATION, "10s", 100, 600000,               \
      "time to send a whole request (TLS handshake, header, body) from connect or the last answer; "\
      "trickling bytes does not extend it")                                                       \
    X(HTTP_IDLE_TIMEOUT, "http", "idle_timeout", DURATION, "15s", 1000, 3600000,                   \
      "a connection with no traffic for this long is closed (whole seconds)")                     \
    X(HTTP_AUTH_TOKEN_FILE, "http", "auth_token_file", STR, "", 0, 0,                              \
      "file holding a bearer token required for the dashboard and /api/* (empty: none)")          \
    X(HTTP_AUTH_BASIC_FILE, "http", "auth_basic_file", STR, "", 0, 0,                              \
      "file holding USER:PASSWORD for Basic authentication of the dashboard and /api/* (empty: none)") \
    X(HTTP_METRICS_AUTH_TOKEN_FILE, "http", "metrics_auth_token_file", STR, "", 0, 0,              \
      "file holding a bearer token required for /metrics (empty: none)")                         \
    X(HTTP_METRICS_AUTH_BASIC_FILE, "http", "metrics_auth_basic_file", STR, "", 0, 0,              \
      "file holding USER:PASSWORD for Basic authentication of /metrics (empty: none)")            \
    X(HTTP_HEALTHZ_AUTH, "http", "healthz_auth", BOOL, "false", 0, 0,                              \
      "/healthz also requires the /metrics credentials (default: open, it says ok or degraded)")  \
    X(HTTP_TLS_CERT, "http", "tls_cert", STR, "", 0, 0,                                            \
      "PEM certificate (chain) file: serve HTTPS (with tls_key)")                                  \
    X(HTTP_TLS_KEY, "http", "tls_key", STR, "", 0, 0,                                              \
      "PEM private key file of tls_cert (unencrypted; keep it 0600)")                              \
                                                                                                   \
    X(RUN_QUEUE_SIZE, "run", "queue_size", INT, "4096", 1, 10000000,                               \
      "items buffered between sources and classifier")                                             \
    X(RUN_GRACE, "run", "grace", DURATION, "30s", 0, 3600000,                                      \
      "on SIGTERM, time allowed to finish in-flight items")                                        \
    X(RUN_STDOUT, "run", "stdout", BOOL, "false", 0, 0,                                            \
      "also write tagged items to stdout as JSON lines")
