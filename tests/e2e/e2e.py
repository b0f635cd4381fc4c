#!/usr/bin/env python3
"""End-to-end tests of `finsent run`: real redis-server, librdkafka's mock
cluster (`finsent kafka-mock`), kcat as the producer, the finsent binary as
the daemon. Each scenario is a separate ctest test (tests/e2e/CMakeLists.txt)
with its own servers on free loopback ports.

Scenarios (python3 tests/e2e/e2e.py SCENARIO --finsent BIN --model DIR):
  normal    N messages paced in real time: every Redis minute bucket equals the
            counts computed by `finsent classify` on the same messages; the
            planted burst on $ACME fires the ticker alert exactly once, and it
            resolves.
  sigkill   the daemon is killed with SIGKILL at three random points and
            restarted each time: final buckets equal the expected ones.
  redis     Redis (appendonly, fsync always) is stopped for 20 s mid-stream and
            restarted: same result, and the daemon never acknowledged early.
  broker    the mock brokers are taken down and brought back: same result.
  sigterm   SIGTERM mid-stream, restart, finish: same result, and replays
            (duplicates) no more than the in-flight batch.
  scaleout  two daemons in one consumer group sharing Redis: every item
            counted once, the ACME alert fired once.
  reload    SIGHUP adds an alert rule mid-stream: it fires, and every item is
            counted once.
  failover  Redis primary + replica + three Sentinels; the replica lags, the
            primary is SIGKILLed mid-stream and the replica promoted: with
            redis.wait_replicas = 1 every bucket equals the expected one.
  failover_nowait  the same without WAIT: reports how many acknowledged
            items were lost (none may be counted twice).

The messages: tests/data/demo/stream.jsonl (the demo stream with the ACME
burst) padded to N with other headlines, each with a unique id, timestamps
spread over the last hour (paced scenario: rewritten to the present as
produced). Expected counts come from `finsent classify` (same model), so the
test checks the pipeline, not the model.
"""
import argparse
import email.utils
import fcntl
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def log(*a):
    print("[e2e %s]" % time.strftime("%H:%M:%S"), *a, flush=True)


SKIPPED = []  # (need, reason) of the checks that did not run (tests/common/th.h)


def skip(need, reason):
    """Records a check that cannot run here; main() then exits 77, or 1 when
    FINSENT_REQUIRE lists need (the machine is declared to have it)."""
    log("SKIPPED: %s [needs %s]" % (reason, need))
    SKIPPED.append((need, reason))


def skip_status():
    required = os.environ.get("FINSENT_REQUIRE", "").split(",")
    for need, reason in SKIPPED:
        if need in required:
            log("FAILED (skipped, but FINSENT_REQUIRE lists its need): %s [needs %s]" % (reason, need))
            return 1
    return 77 if SKIPPED else 0


# Ports for the servers a scenario starts. ctest runs scenarios (and the C
# tests, tests/common/th.c) in parallel, and a port the kernel hands out for
# bind(0) is free only at that moment: another test, or an outgoing
# connection, can take it before our server binds it, and then wait_port
# finds someone else's server. So ports come from below the kernel's
# ephemeral range (no outgoing connection uses them) and each is reserved
# for this process's lifetime by an flock on PORT_DIR/<port>, which the C
# tests take too.
PORT_DIR = os.path.join(tempfile.gettempdir(), "finsent-test-ports")
PORT_LO, PORT_HI = 20000, 32000
_port_locks = []


def free_port():
    """A TCP port on 127.0.0.1, free now and reserved for this process."""
    os.makedirs(PORT_DIR, exist_ok=True)
    rnd = random.Random(os.getpid() ^ time.time_ns())
    for _ in range(1000):
        port = rnd.randrange(PORT_LO, PORT_HI)
        fd = os.open(os.path.join(PORT_DIR, str(port)), os.O_CREAT | os.O_RDWR, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            os.close(fd)
            continue
        finally:
            s.close()
        _port_locks.append(fd)
        return port
    raise RuntimeError("no free port in %d..%d" % (PORT_LO, PORT_HI))


def wait_port(port, timeout=10.0, proc=None):
    """True once port accepts connections; False after timeout, or as soon
    as proc (the server meant to listen there) has exited."""
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc is None or proc.poll() is None
        except OSError:
            time.sleep(0.05)
    return False


class Redis:
    """A minimal RESP client (the stdlib has none)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode("utf-8", "replace")
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RuntimeError("bad reply %r" % line)

    def pipeline(self, cmds):
        out = b""
        for c in cmds:
            out += b"*%d\r\n" % len(c)
            for a in c:
                a = a if isinstance(a, bytes) else str(a).encode()
                out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return [self._reply() for _ in cmds]

    def cmd(self, *args):
        return self.pipeline([args])[0]

    def scan(self, pattern):
        cur, keys = "0", []
        while True:
            cur, batch = self.cmd("SCAN", cur, "MATCH", pattern, "COUNT", 1000)
            keys += batch
            if cur == "0":
                return keys


def slug(label):
    s = re.sub(r"[^a-z0-9]+", "-", label.lower())
    return s.strip("-")


class Env:
    """Servers and daemon of one scenario, all in one temp dir."""

    def __init__(self, args, name):
        self.args = args
        self.dir = tempfile.mkdtemp(prefix="finsent-e2e-%s-" % name)
        self.procs = {}
        self.redis_port = free_port()
        self.http_port = free_port()
        self.brokers = None

    def start_redis(self, fsync="always"):
        p = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
             "--dir", self.dir, "--appendonly", "yes", "--appendfsync", fsync,
             "--save", ""],
            stdout=open(os.path.join(self.dir, "redis.log"), "a"), stderr=subprocess.STDOUT)
        self.procs["redis"] = p
        if not wait_port(self.redis_port, proc=p):
            raise RuntimeError("redis-server did not start:\n" + self.tail("redis.log"))
        # After a restart Redis answers LOADING until the AOF is replayed.
        end = time.time() + 60
        while True:
            try:
                r = Redis(self.redis_port)
                pong = r.cmd("PING")
                r.close()
                if pong == "PONG":
                    break
            except (RuntimeError, OSError):
                if time.time() > end:
                    raise
            time.sleep(0.05)

    def stop_redis(self, sig=signal.SIGKILL):
        p = self.procs.pop("redis")
        p.send_signal(sig)
        p.wait()

    def start_kafka(self, partitions=4):
        out = os.path.join(self.dir, "kafka.out")
        p = subprocess.Popen([self.args.finsent, "kafka-mock", "--topic", "news:%d" % partitions],
                             stdout=open(out, "w"), stderr=open(os.path.join(self.dir, "kafka.log"), "w"))
        self.procs["kafka"] = p
        for _ in range(200):
            if os.path.getsize(out) > 0:
                break
            time.sleep(0.05)
        self.brokers = open(out).readline().strip()
        if not self.brokers:
            raise RuntimeError("kafka-mock did not start")

    def config(self, extra=""):
        path = os.path.join(self.dir, "finsent.conf")
        with open(path, "w") as f:
            f.write("""[log]
level = info
[kafka]
brokers = %s
group = e2e
topics = news
session.timeout.ms = 6000
heartbeat.interval.ms = 500
fetch.wait.max.ms = 10
[redis]
port = %d
windows = 5m,15m,1h
[classify]
model = %s
batch = 32
[http]
listen = 127.0.0.1:%d
[run]
grace = 30s
[rule.ticker]
scope = entity
window = 5m
threshold = 0.45
clear = 0.30
min_count = 20
basis = wilson
cooldown = 30m
%s
""" % (self.brokers, self.redis_port, self.args.model, self.http_port, extra))
        return path

    def start_daemon(self):
        logf = open(os.path.join(self.dir, "run.log"), "a")
        p = subprocess.Popen([self.args.finsent, "run", "-c", os.path.join(self.dir, "finsent.conf")],
                             stdout=logf, stderr=subprocess.STDOUT)
        self.procs["run"] = p
        if not wait_port(self.http_port, 120, proc=p):
            raise RuntimeError("finsent run did not start:\n" + self.tail("run.log"))
        return p

    def metric(self, name, labels=None):
        import urllib.request
        try:
            body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.http_port, timeout=5).read().decode()
        except OSError:
            return None
        total = 0.0
        for line in body.splitlines():
            if line.startswith(name) and (line[len(name)] in " {"):
                if labels and labels not in line:
                    continue
                total += float(line.rsplit(" ", 1)[1])
        return total

    def health(self):
        """(HTTP status, parsed JSON) of /healthz."""
        try:
            r = urllib.request.urlopen("http://127.0.0.1:%d/healthz" % self.http_port, timeout=5)
            return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def tail(self, name, n=40):
        try:
            return "".join(open(os.path.join(self.dir, name)).readlines()[-n:])
        except OSError:
            return ""

    def produce(self, lines, paced=False, speed=60.0):
        """Produces lines into topic news with kcat. Paced: ts rewritten to now."""
        p = subprocess.Popen(["kcat", "-P", "-b", self.brokers, "-t", "news", "-X", "linger.ms=5"],
                             stdin=subprocess.PIPE, stderr=open(os.path.join(self.dir, "kcat.log"), "a"))
        written = []
        t0 = time.time()
        first = None
        for line in lines:
            if paced:
                obj = json.loads(line)
                if first is None:
                    first = obj["ts"]
                delay = t0 + (obj["ts"] - first) / 1000.0 / speed - time.time()
                if delay > 0:
                    p.stdin.flush()
                    time.sleep(delay)
                obj["ts"] = int(time.time() * 1000)
                line = json.dumps(obj)
            p.stdin.write(line.encode() + b"\n")
            written.append(line)
        p.stdin.close()
        if p.wait() != 0:
            raise RuntimeError("kcat failed:\n" + self.tail("kcat.log"))
        return written

    def wait_processed(self, n, timeout=300):
        end = time.time() + timeout
        last = -1
        while time.time() < end:
            v = self.metric("finsent_items_out_total")
            if v is not None and v >= n:
                return True
            if v != last:
                last = v
            time.sleep(0.25)
        return False

    def close(self):
        for name, p in list(self.procs.items()):
            if p.poll() is None:
                p.kill()
            p.wait()
        if os.environ.get("E2E_KEEP"):
            log("kept", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def make_messages(n, base_ms):
    """N messages: the demo stream plus other headlines, ts over one hour."""
    demo = [json.loads(l) for l in open(os.path.join(ROOT, "tests", "data", "demo", "stream.jsonl"))]
    first, last = demo[0]["ts"], demo[-1]["ts"]
    msgs = []
    for o in demo:
        o = dict(o)
        o["ts"] = base_ms + (o["ts"] - first) * 3600000 // max(1, last - first)
        msgs.append(o)
    plain = [o for o in demo if not o["id"].startswith(("acme", "burst"))]
    rnd = random.Random(7)
    if n < len(msgs):
        # A smaller stream (sanitizer runs) keeps every ACME item, before,
        # during and after the burst, and a sample of the rest, so the alert
        # still fires and resolves.
        acme = [o for o in msgs if o["id"].startswith(("acme", "burst"))]
        rest = [o for o in msgs if not o["id"].startswith(("acme", "burst"))]
        msgs = acme + rnd.sample(rest, max(0, n - len(acme)))
    i = 0
    while len(msgs) < n:
        src = plain[i % len(plain)]
        i += 1
        o = {"id": "pad-%06d" % i, "text": src["text"] + " (update %d)" % (i // len(plain) + 1),
             "source": "newswire", "ts": base_ms + rnd.randrange(3600000)}
        msgs.append(o)
    msgs = msgs[:n]
    msgs.sort(key=lambda o: (o["ts"], o["id"]))
    return [json.dumps(o, ensure_ascii=False) for o in msgs]


def expected_buckets(args, lines):
    """Runs finsent classify and sums counts per (scope, minute)."""
    p = subprocess.run([args.finsent, "classify", "--model", args.model, "--batch", "64"],
                       input="\n".join(lines).encode() + b"\n", stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, check=True)
    exp = {}
    out = p.stdout.decode().splitlines()
    assert len(out) == len(lines), "classify gave %d lines for %d" % (len(out), len(lines))
    for line in out:
        t = json.loads(line)
        ms = int(json.loads(json.dumps(t))["ts_ms"]) if "ts_ms" in t else None
        if ms is None:
            # ts is RFC 3339 with milliseconds, UTC
            import calendar
            m = re.match(r"(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)\.(\d+)Z", t["ts"])
            y, mo, d, h, mi, s, frac = (int(x) for x in m.groups())
            ms = calendar.timegm((y, mo, d, h, mi, s)) * 1000 + frac
        minute = ms // 60000
        scopes = ["all"]
        if t.get("topic"):
            scopes.append("topic:" + slug(t["topic"]))
        for e in t.get("entities", []):
            scopes.append("entity:" + re.sub(r"[^A-Z0-9.\-_]", "_", e.upper()))
        for sc in scopes:
            b = exp.setdefault((sc, minute), {"n": 0, "negative": 0, "neutral": 0, "positive": 0})
            b["n"] += 1
            b[t["sentiment"]] += 1
    return exp


def actual_buckets(env):
    r = Redis(env.redis_port)
    keys = r.scan("finsent:b:*")
    vals = r.pipeline([("HGETALL", k) for k in keys])
    r.close()
    got = {}
    for k, v in zip(keys, vals):
        scope, minute = k[len("finsent:b:"):].rsplit(":", 1)
        h = dict(zip(v[::2], v[1::2]))
        got[(scope, int(minute))] = {f: int(h.get(f, 0)) for f in ("n", "negative", "neutral", "positive")}
    return got


def compare(exp, got):
    missing = [k for k in exp if k not in got]
    extra = [k for k in got if k not in exp]
    wrong = [k for k in exp if k in got and exp[k] != got[k]]
    if missing or extra or wrong:
        for k in (missing[:5] + extra[:5] + wrong[:5]):
            log("bucket", k, "expected", exp.get(k), "got", got.get(k))
        raise AssertionError("buckets differ: %d missing, %d extra, %d wrong (of %d)"
                             % (len(missing), len(extra), len(wrong), len(exp)))
    total = sum(v["n"] for (s, m), v in exp.items() if s == "all")
    log("OK: %d buckets equal, %d items in scope all" % (len(exp), total))


def alerts(env):
    r = Redis(env.redis_port)
    entries = r.cmd("XRANGE", "finsent:alerts:log", "-", "+")
    r.close()
    out = []
    for _id, fields in entries:
        h = dict(zip(fields[::2], fields[1::2]))
        doc = h.get("alert") or h.get("json") or next(iter(h.values()))
        out.append(json.loads(doc))
    return out


def wait_ticks(env, port, ticks=2, timeout=120):
    """Waits until the daemon on http port has finished ticks more rule ticks
    (finsent_redis_tick_seconds_count), so a whole tick ran after the last
    write. A fixed 3 s sleep (a tick every 2 s plus its own run time) holds
    only while the tick thread gets the CPU in time."""
    def count():
        try:
            body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read()
        except OSError:
            return None
        m = re.search(rb"^finsent_redis_tick_seconds_count(?:\{[^}]*\})? (\S+)$", body, re.M)
        return float(m.group(1)) if m else None
    start, end = count(), time.time() + timeout
    assert start is not None, "no finsent_redis_tick_seconds_count on port %d" % port
    while (count() or 0) < start + ticks:
        assert time.time() < end, "%d rule ticks did not happen in %d s" % (ticks, timeout)
        time.sleep(0.2)


def shipped_model(args):
    return os.path.abspath(args.model) == os.path.abspath(os.path.join(ROOT, "models", "finsent-mini"))


# ---- scenarios -----------------------------------------------------------

def scenario_normal(args, env):
    env.start_redis()
    env.start_kafka()
    env.config()
    env.start_daemon()
    lines = make_messages(args.messages, int(time.time() * 1000) - 3600000)
    speed = 3600.0 / args.paced_seconds
    log("producing %d messages paced over ~%ds" % (len(lines), args.paced_seconds))
    written = env.produce(lines, paced=True, speed=speed)
    assert env.wait_processed(len(written)), "not all processed:\n" + env.tail("run.log")
    status, h = env.health()
    assert status == 200 and h["status"] == "ok" and h["redis"]["ok"] and h["kafka"]["ok"], h
    wait_ticks(env, env.http_port)  # a rule tick after the last write
    env.procs["run"].send_signal(signal.SIGTERM)
    assert env.procs["run"].wait(timeout=60) == 0, "daemon exit status"
    compare(expected_buckets(args, written), actual_buckets(env))
    acme = [a for a in alerts(env) if a.get("scope") == "entity:ACME"]
    log("ACME alerts:", [(a.get("state"), a.get("n"), round(a.get("neg_rate", 0), 3)) for a in acme])
    if shipped_model(args):
        states = [a["state"] for a in acme]
        assert states.count("firing") == 1, "ACME fired %d times" % states.count("firing")
        assert states == ["firing", "resolved"], "ACME alert states %r" % states
    else:
        skip("model", "alert assertion: model %s is not the shipped one" % args.model)


def run_until_done(env, n, interrupt):
    """Restarts the daemon after each interruption until n items are out."""
    deadline = time.time() + 600
    while time.time() < deadline:
        if env.wait_processed(n, timeout=2):
            break
        if env.procs["run"].poll() is not None:
            env.start_daemon()
    else:
        raise AssertionError("not done:\n" + env.tail("run.log"))


def count_all(env):
    r = Redis(env.redis_port)
    keys = r.scan("finsent:b:all:*")
    vals = r.pipeline([("HGET", k, "n") for k in keys])
    r.close()
    return sum(int(v or 0) for v in vals)


def finish(env, n):
    """Waits until Redis holds n items in scope all (metrics restart at 0
    with each daemon), then stops the daemon."""
    end = time.time() + 600
    while time.time() < end and count_all(env) < n:
        if env.procs["run"].poll() is not None:
            env.start_daemon()
        time.sleep(0.5)
    assert count_all(env) == n, "counted %d of %d:\n%s" % (count_all(env), n, env.tail("run.log"))
    wait_ticks(env, env.http_port)  # the rules see the last write
    env.procs["run"].send_signal(signal.SIGTERM)
    assert env.procs["run"].wait(timeout=60) == 0


def setup_unpaced(args, env):
    env.start_redis()
    env.start_kafka()
    env.config()
    lines = make_messages(args.messages, int(time.time() * 1000) - 3600000)
    return lines


def scenario_sigkill(args, env):
    lines = setup_unpaced(args, env)
    env.produce(lines)
    seed = int(os.environ.get("E2E_SEED", time.time()))
    rnd = random.Random(seed)
    # Three random kill points between 10% and 90% of the stream, at least
    # 5% apart so each restarted daemon makes progress before it dies.
    while True:
        targets = sorted(rnd.randrange(len(lines) // 10, len(lines) * 9 // 10) for _ in range(3))
        if targets[1] - targets[0] > len(lines) // 20 and targets[2] - targets[1] > len(lines) // 20:
            break
    log("seed %d, kill points %s" % (seed, targets))
    env.start_daemon()
    for k, target in enumerate(targets):
        end = time.time() + 300
        while time.time() < end and count_all(env) < target:
            time.sleep(0.02)
        log("SIGKILL %d at %d items counted" % (k + 1, count_all(env)))
        env.procs["run"].kill()
        env.procs["run"].wait()
        env.start_daemon()
    finish(env, len(lines))
    compare(expected_buckets(args, lines), actual_buckets(env))


def scenario_redis(args, env):
    lines = setup_unpaced(args, env)
    env.start_daemon()
    half = len(lines) // 2
    env.produce(lines[:half])
    end = time.time() + 120
    while time.time() < end and count_all(env) < half // 2:
        time.sleep(0.05)
    log("stopping Redis for 20 s at %d items" % count_all(env))
    env.stop_redis(signal.SIGKILL)
    acked_before = env.metric("finsent_items_out_total")
    env.produce(lines[half:])
    time.sleep(20)
    status, h = env.health()
    assert status == 503 and h["status"] == "degraded" and not h["redis"]["ok"], (status, h)
    acked_during = env.metric("finsent_items_out_total")
    # Nothing may be acknowledged while Redis is away (in-flight writes that
    # completed just before the kill are allowed: within one batch).
    assert acked_during - acked_before <= 512, "acked %d items with Redis down" % (acked_during - acked_before)
    env.start_redis()
    log("Redis back")
    finish(env, len(lines))
    compare(expected_buckets(args, lines), actual_buckets(env))


def scenario_broker(args, env):
    lines = setup_unpaced(args, env)
    env.start_daemon()
    half = len(lines) // 2
    env.produce(lines[:half])
    end = time.time() + 120
    while time.time() < end and count_all(env) < half // 2:
        time.sleep(0.05)
    log("brokers down at %d items" % count_all(env))
    env.procs["kafka"].send_signal(signal.SIGUSR1)
    time.sleep(10)
    env.procs["kafka"].send_signal(signal.SIGUSR2)
    log("brokers up")
    env.produce(lines[half:])
    finish(env, len(lines))
    compare(expected_buckets(args, lines), actual_buckets(env))


def scenario_sigterm(args, env):
    lines = setup_unpaced(args, env)
    env.produce(lines)
    env.start_daemon()
    end = time.time() + 120
    while time.time() < end and count_all(env) < len(lines) // 3:
        time.sleep(0.05)
    log("SIGTERM at %d items" % count_all(env))
    env.procs["run"].send_signal(signal.SIGTERM)
    assert env.procs["run"].wait(timeout=60) == 0, "exit status after SIGTERM"
    before = count_all(env)
    env.start_daemon()
    assert env.wait_processed(len(lines) - before, timeout=300)
    dup = env.metric("finsent_redis_items_total", 'outcome="duplicate"') or 0
    log("after restart: %d duplicates" % dup)
    assert dup <= 32, "replayed %d items beyond the in-flight batch" % dup
    finish(env, len(lines))
    compare(expected_buckets(args, lines), actual_buckets(env))


def scenario_scaleout(args, env):
    """Two daemons in one consumer group sharing Redis: every item counted
    once, the ACME alert fired once."""
    env.start_redis()
    env.start_kafka()
    env.config()
    first_port = env.http_port
    env.start_daemon()
    first = env.procs.pop("run")
    env.http_port = free_port()
    env.config()
    env.start_daemon()
    second = env.procs["run"]
    env.procs["run0"] = first
    lines = make_messages(args.messages, int(time.time() * 1000) - 3600000)
    speed = 3600.0 / args.paced_seconds
    log("two daemons (http %d, %d); producing %d messages paced over ~%ds"
        % (first_port, env.http_port, len(lines), args.paced_seconds))
    written = env.produce(lines, paced=True, speed=speed)
    end = time.time() + 300
    while time.time() < end and count_all(env) < len(written):
        time.sleep(0.5)
    for port in (first_port, env.http_port):
        wait_ticks(env, port)  # a rule tick after the last write
    for p in (first, second):
        p.send_signal(signal.SIGTERM)
    for p in (first, second):
        assert p.wait(timeout=60) == 0
    compare(expected_buckets(args, written), actual_buckets(env))
    acme = [a for a in alerts(env) if a.get("scope") == "entity:ACME"]
    log("ACME alerts:", [(a.get("state"), a.get("n")) for a in acme])
    if shipped_model(args):
        states = [a["state"] for a in acme]
        assert states == ["firing", "resolved"], "ACME alert states %r" % states
    else:
        skip("model", "alert assertion: model %s is not the shipped one" % args.model)


def scenario_reload(args, env):
    """SIGHUP applies a new alert rule without dropping or double-counting
    items."""
    lines = setup_unpaced(args, env)
    env.start_daemon()
    half = len(lines) // 2
    env.produce(lines[:half])
    assert env.wait_processed(half, timeout=300), env.tail("run.log")
    env.config("[rule.everything]\nscope = all\nwindow = 1h\nthreshold = 0.0\n"
               "clear = 0.0\nmin_count = 1\n")
    env.procs["run"].send_signal(signal.SIGHUP)
    log("SIGHUP with a new rule at %d items" % count_all(env))
    env.produce(lines[half:])
    end = time.time() + 120
    while "alert rules and feeds reloaded" not in env.tail("run.log", 400):
        assert time.time() < end, "no reload logged"
        time.sleep(0.2)
    finish(env, len(lines))
    compare(expected_buckets(args, lines), actual_buckets(env))
    fired = [a for a in alerts(env) if a.get("rule") == "everything" and a.get("state") == "firing"]
    assert len(fired) == 1, "the reloaded rule fired %d times" % len(fired)
    assert "alert rules and feeds reloaded" in env.tail("run.log", 400), "no reload logged"


def scenario_feeds(args, env):
    """Feeds only (no Kafka): a good RSS feed, a KOI8-R feed whose charset is
    only in the HTTP Content-Type, a feed whose items are in a foreign
    namespace (parses, yields nothing) and a 404. Every item reaches Redis
    as valid UTF-8 (the KOI8-R headline decoded), and /healthz lists the
    empty and the failing feed once they have been so for
    rss.unhealthy_polls polls, while the status stays ok."""
    env.start_redis()
    fport = free_port()
    # The fixtures, with their dates moved to now (older items would be past
    # redis.retention and not counted).
    src = os.path.join(ROOT, "tests", "data", "feeds")
    data = os.path.join(env.dir, "feeds")
    now = email.utils.formatdate(time.time() - 60, usegmt=True).encode()
    for rel in ("rss2.xml", "charset/koi8r_http_override.xml", "dialects/zero_items_wrong_ns.xml"):
        os.makedirs(os.path.dirname(os.path.join(data, rel)), exist_ok=True)
        body = open(os.path.join(src, rel), "rb").read()
        body = re.sub(rb"<pubDate>[^<]*</pubDate>", b"<pubDate>" + now + b"</pubDate>", body)
        open(os.path.join(data, rel), "wb").write(body)
    env.procs["feeds"] = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "tests", "ingest", "feed_server.py"), str(fport), data],
        stdout=open(os.path.join(env.dir, "feeds.log"), "w"), stderr=subprocess.STDOUT)
    if not wait_port(fport, proc=env.procs["feeds"]):
        raise RuntimeError("feed_server.py did not start")
    base = "http://127.0.0.1:%d" % fport
    with open(os.path.join(env.dir, "finsent.conf"), "w") as f:
        f.write("""[log]
level = info
[redis]
port = %d
windows = 5m,1h
[classify]
model = %s
[http]
listen = 127.0.0.1:%d
[rss]
unhealthy_polls = 2
backoff_max = 2s
[feed.good]
url = %s/static/rss2.xml
interval = 1s
[feed.koi]
url = %s/typed/charset/koi8r_http_override.xml?type=text/xml%%3B%%20charset%%3Dkoi8-r
interval = 1s
[feed.empty]
url = %s/typed/dialects/zero_items_wrong_ns.xml
interval = 1s
[feed.dead]
url = %s/static/no-such-feed.xml
interval = 1s
""" % (env.redis_port, args.model, env.http_port, base, base, base, base))
    env.start_daemon()
    want = 3 + 6  # rss2.xml's items with text, koi8r's six
    assert env.wait_processed(want, timeout=120), "not all processed:\n" + env.tail("run.log")
    end = time.time() + 60
    while True:
        status, h = env.health()
        names = {a["feed"]: a for a in h.get("rss", {}).get("attention", [])}
        if "empty" in names and "dead" in names:
            break
        assert time.time() < end, "healthz never listed the feeds: %r" % h
        time.sleep(0.5)
    assert status == 200 and h["status"] == "ok", h
    assert names["empty"]["state"] == "empty" and names["empty"]["polls"] >= 2, names
    assert names["dead"]["state"] == "failing" and "404" in names["dead"]["error"], names
    assert "good" not in names and "koi" not in names, names
    assert h["rss"]["feeds"] == 4, h
    assert (env.metric("finsent_feed_empty_total", 'feed="empty"') or 0) >= 2
    assert not env.metric("finsent_utf8_repaired_total"), "the UTF-8 gate had to repair"
    r = Redis(env.redis_port)
    recent = r.cmd("LRANGE", "finsent:recent", "0", "-1")
    r.close()
    koi = "\u0418\u043d\u0434\u0435\u043a\u0441 \u041c\u043e\u0441\u0431\u0438\u0440\u0436\u0438"
    assert any(koi in x for x in recent), \
        "no decoded KOI8-R title in finsent:recent (%d, out %r): %r" % (len(recent), env.metric("finsent_items_out_total"), recent[:2])
    assert "item-like element(s) but no item read" in env.tail("run.log", 400), "no warning logged"
    env.procs["run"].send_signal(signal.SIGTERM)
    assert env.procs["run"].wait(timeout=60) == 0, "daemon exit status"


def topic_count(env, topic):
    """Messages in a topic of the mock cluster, read with kcat."""
    out = subprocess.run(["kcat", "-C", "-b", env.brokers, "-t", topic, "-o", "beginning", "-e",
                          "-q", "-f", "%o\\n"], capture_output=True, timeout=60)
    return len([l for l in out.stdout.decode().splitlines() if l.strip()])


def scenario_oversize(args, env):
    """Issue 18's reproduction: an item with a 999,900-byte id followed by 100
    good items, with kafka.output_topic set. The id is hashed to a bounded
    one (core_item_set), so its output is produced like the others: every
    item is acknowledged, a restart re-sends nothing, SIGTERM is quick. A
    1,000,000-byte message (over kafka.max_message_bytes) is dead-lettered,
    cut to what the producer takes, instead of failing."""
    env.start_redis()
    env.start_kafka(partitions=1)
    env.config("[kafka]\noutput_topic = tagged\ndead_letter_topic = dlq\n")
    now = int(time.time() * 1000)
    # just under kafka.max_message_bytes (1,000,000): accepted; its tagged
    # output with the whole id would be over the producer's limit
    big = json.dumps({"id": "x" * 999900, "text": "Acme shares slump", "ts": now})
    assert len(big) < 1000000, len(big)
    huge = json.dumps({"id": "y", "text": "z" * 1000000, "ts": now})
    good = [json.dumps({"id": "g-%03d" % i, "text": "Bond yields fall %d" % i, "ts": now})
            for i in range(100)]
    p = subprocess.Popen(["kcat", "-P", "-b", env.brokers, "-t", "news", "-X",
                          "message.max.bytes=2000000"],
                         stdin=subprocess.PIPE, stderr=open(os.path.join(env.dir, "kcat.log"), "a"))
    p.communicate(("\n".join([big, huge] + good) + "\n").encode())
    assert p.returncode == 0, env.tail("kcat.log")
    env.start_daemon()
    assert env.wait_processed(101, timeout=120), "not all processed:\n" + env.tail("run.log")
    end = time.time() + 30
    while topic_count(env, "tagged") < 101 and time.time() < end:
        time.sleep(0.5)
    assert topic_count(env, "tagged") == 101, "outputs: %d" % topic_count(env, "tagged")
    assert topic_count(env, "dlq") == 1, "dead letters: %d" % topic_count(env, "dlq")
    assert (env.metric("finsent_ids_hashed_total") or 0) == 1
    t0 = time.time()
    env.procs["run"].send_signal(signal.SIGTERM)
    assert env.procs["run"].wait(timeout=60) == 0, "daemon exit status"
    took = time.time() - t0
    assert took < 10, "SIGTERM took %.1f s" % took
    # A restart has nothing left to consume: no output is produced again.
    env.start_daemon()
    end = time.time() + 120
    while True:
        try:
            if (env.health()[1].get("kafka") or {}).get("assigned", 0) > 0:
                break
        except OSError:
            pass  # its HTTP server is not up yet
        assert time.time() < end, "the restarted daemon was assigned no partition"
        time.sleep(0.2)
    time.sleep(3)  # assigned, fetching every 10 ms: anything left would be out by now
    assert topic_count(env, "tagged") == 101, "a restart re-sent outputs: %d" % topic_count(env, "tagged")
    env.procs["run"].send_signal(signal.SIGTERM)
    assert env.procs["run"].wait(timeout=60) == 0
    log("OK: 101 outputs once, 1 dead letter, SIGTERM in %.1f s" % took)


def scenario_auth(args, env):
    """Wrong Redis credentials fail `finsent run` at start, at once, with the
    server's words (issue 18); the right ACL user starts it."""
    env.start_redis()
    r = Redis(env.redis_port)
    assert r.cmd("ACL", "SETUSER", "finsent", "on", ">s3cret", "~finsent:*", "&finsent:*", "-@all",
                 "+@read", "+@write", "+@scripting", "+@pubsub", "+@connection",
                 "-@dangerous") == "OK"
    r.close()
    env.start_kafka(partitions=1)
    env.config("[redis]\nuser = finsent\npassword = wrong\n")
    t0 = time.time()
    p = subprocess.run([args.finsent, "run", "-c", os.path.join(env.dir, "finsent.conf")],
                       capture_output=True, timeout=60)
    took = time.time() - t0
    out = p.stderr.decode() + p.stdout.decode()
    assert p.returncode != 0, "run started with a wrong password"
    assert "AUTH as finsent refused" in out and "WRONGPASS" in out, \
        "exit %d: %s" % (p.returncode, out[-2000:])
    assert took < 20, "took %.1f s to give up" % took
    env.config("[redis]\nuser = finsent\npassword = s3cret\n")
    env.start_daemon()
    status, h = env.health()  # Kafka may still be joining: only Redis matters here
    assert h["redis"]["ok"], h
    env.procs["run"].send_signal(signal.SIGTERM)
    rc = env.procs["run"].wait(timeout=60)
    assert rc == 0, "exit %d after SIGTERM:\n%s" % (rc, env.tail("run.log"))
    log("OK: refused in %.1f s; the ACL user runs" % took)


def start_server(env, name, port, *extra):
    d = os.path.join(env.dir, name)
    os.makedirs(d, exist_ok=True)
    p = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
                          "--save", ""] + list(extra),
                         stdout=open(os.path.join(env.dir, name + ".log"), "a"),
                         stderr=subprocess.STDOUT)
    env.procs[name] = p
    if not wait_port(port, proc=p):
        raise RuntimeError("%s did not start" % name)
    return p


def sentinel_primary(port):
    try:
        r = Redis(port)
        v = r.cmd("SENTINEL", "get-master-addr-by-name", "e2e")
        r.close()
        return int(v[1]) if v else None
    except (RuntimeError, OSError):
        return None


def quantiles(env, name, qs=(0.5, 0.99)):
    """Upper bucket bounds holding the quantiles qs of histogram name."""
    try:
        body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % env.http_port, timeout=5).read().decode()
    except OSError:
        return None
    b = []
    for line in body.splitlines():
        m = re.match(name + r'_bucket\{.*le="([^"]+)"\} (\S+)', line)
        if m:
            b.append((float("inf") if m.group(1) == "+Inf" else float(m.group(1)), float(m.group(2))))
    if not b or b[-1][1] == 0:
        return None
    return [next(le for le, c in b if c >= q * b[-1][1]) for q in qs] + [int(b[-1][1])]


def scenario_failover(args, env, wait=True):
    """A primary, a replica and three Sentinels; finsent finds the primary
    through them. Mid-stream the replica is paused and cut off (so that it
    lags, as a slow replica does), the primary is SIGKILLed, the replica
    resumes and is promoted. With redis.wait_replicas = 1 every bucket
    equals the expected one; without it, what the dead primary had
    acknowledged but never replicated is lost, and the scenario reports how
    much (E2E_SEED: kill point and lag)."""
    seed = int(os.environ.get("E2E_SEED", time.time()))
    rnd = random.Random(seed)
    n = min(args.messages, 4000)
    primary, replica = env.redis_port, free_port()
    start_server(env, "primary", primary, "--appendonly", "yes", "--appendfsync", "always")
    start_server(env, "replica", replica, "--replicaof", "127.0.0.1", str(primary))
    sports = [free_port() for _ in range(3)]
    for i, sp in enumerate(sports):
        conf = os.path.join(env.dir, "sentinel%d.conf" % i)
        with open(conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\ndir %s\nprotected-mode no\n"
                    "sentinel monitor e2e 127.0.0.1 %d 2\n"
                    "sentinel down-after-milliseconds e2e 1000\n"
                    "sentinel failover-timeout e2e 5000\n" % (sp, env.dir, primary))
        env.procs["sentinel%d" % i] = subprocess.Popen(
            ["redis-server", conf, "--sentinel"],
            stdout=open(os.path.join(env.dir, "sentinel%d.log" % i), "w"), stderr=subprocess.STDOUT)
        assert wait_port(sp, proc=env.procs["sentinel%d" % i]), "sentinel %d did not start" % i
    env.start_kafka()
    env.config("[redis]\nsentinels = %s\nmaster_name = e2e\nreconnect_max = 500ms\n%s"
               % (",".join("127.0.0.1:%d" % p for p in sports),
                  "wait_replicas = 1\nwait_timeout = 500ms\n" if wait else ""))
    lines = make_messages(n, int(time.time() * 1000) - 3600000)
    target = rnd.randrange(n // 5, n * 3 // 5)
    lag = rnd.choice([0.5, 1.0, 1.5])
    log("seed %d: %d messages, wait_replicas=%d, kill at %d items, replica lag %.1f s"
        % (seed, n, 1 if wait else 0, target, lag))
    # Only part of the stream goes in before the kill, the rest after it:
    # a daemon faster than the replica lag once counted all 4,000 messages
    # before the kill, and with nothing left to count the failover went
    # untested (and "counting again" waited out its 300 s).
    head = (target + n) // 2
    env.produce(lines[:head])
    env.start_daemon()
    end = time.time() + 300
    while time.time() < end and count_all(env) < target:
        time.sleep(0.02)
    os.kill(env.procs["replica"].pid, signal.SIGSTOP)
    r = Redis(primary)
    r.cmd("CLIENT", "KILL", "TYPE", "replica")
    r.close()
    time.sleep(lag)
    at_kill = count_all(env)
    acked_at_kill = env.metric("finsent_items_out_total")
    env.procs["primary"].kill()
    env.procs["primary"].wait()
    t_kill = time.time()
    os.kill(env.procs["replica"].pid, signal.SIGCONT)
    env.produce(lines[head:])
    env.redis_port = replica
    while time.time() < end and not all(sentinel_primary(sp) == replica for sp in sports):
        time.sleep(0.05)
    t_promoted = time.time()
    base = count_all(env)
    log("primary killed with %d counted (%s acknowledged); promoted after %.1f s with %d"
        % (at_kill, acked_at_kill, t_promoted - t_kill, base))
    # Sentinel must not fail back: a 1 s down-after makes the failover quick
    # to test, but on a loaded machine (CI, 2 cores) the new primary can
    # miss pings for a second while it forks for the full sync below, and
    # the sentinels would then promote the only other node, the empty old
    # primary (seen once: two failovers, counts lost). Production
    # settings are 5-30 s; after the promotion the test uses 10 s.
    for sp in sports:
        r = Redis(sp)
        r.cmd("SENTINEL", "SET", "e2e", "down-after-milliseconds", "10000")
        r.close()
    # The old primary's machine comes back empty and becomes a replica (as
    # Sentinel would make it; here at once, so WAIT has a replica again).
    # It starts as a replica: never, even for a moment, an empty primary.
    start_server(env, "primary2", primary, "--replicaof", "127.0.0.1", str(replica))
    while time.time() < end and count_all(env) <= base:
        time.sleep(0.05)
    t_again = time.time()
    log("counting again %.1f s after the kill" % (t_again - t_kill))
    assert env.wait_processed(n, timeout=300), "not all processed:\n" + env.tail("run.log")
    time.sleep(1)
    status, h = env.health()
    log("healthz redis:", h["redis"])
    log("write p50/p99/batches %s, WAIT p50/p99/batches %s" % (
        quantiles(env, "finsent_redis_write_seconds"), quantiles(env, "finsent_redis_wait_seconds")))
    if h["redis"]["primary"] != "127.0.0.1:%d" % replica:
        for i in range(3):
            log("sentinel%d.log:\n" % i + env.tail("sentinel%d.log" % i))
    assert h["redis"]["primary"] == "127.0.0.1:%d" % replica and h["redis"]["failovers"] >= 1, h
    got = count_all(env)
    env.procs["run"].send_signal(signal.SIGTERM)
    assert env.procs["run"].wait(timeout=60) == 0
    log("RESULT seed=%d wait_replicas=%d messages=%d counted=%d lost=%d recover_s=%.1f"
        % (seed, 1 if wait else 0, n, got, n - got, t_again - t_kill))
    if wait:
        compare(expected_buckets(args, lines), actual_buckets(env))
    else:
        assert got <= n, "counted %d of %d: double counting" % (got, n)


def scenario_failover_nowait(args, env):
    scenario_failover(args, env, wait=False)


SCENARIOS = {
    "failover": scenario_failover,
    "failover_nowait": scenario_failover_nowait,
    "auth": scenario_auth,
    "oversize": scenario_oversize,
    "feeds": scenario_feeds,
    "reload": scenario_reload,
    "scaleout": scenario_scaleout,
    "normal": scenario_normal,
    "sigkill": scenario_sigkill,
    "redis": scenario_redis,
    "broker": scenario_broker,
    "sigterm": scenario_sigterm,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument("--finsent", required=True)
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "finsent-mini"))
    ap.add_argument("--messages", type=int, default=int(os.environ.get("E2E_MESSAGES", 10000)))
    ap.add_argument("--paced-seconds", type=int, default=int(os.environ.get("E2E_PACED_SECONDS", 60)))
    args = ap.parse_args()
    if not os.path.exists(os.path.join(args.model, "config.json")):
        fallback = os.path.join(ROOT, "tests", "data", "parity", "mt_l2_h64_f32")
        log("model %s missing; using %s" % (args.model, fallback))
        args.model = fallback
    for tool, need in (("redis-server", "redis"), ("kcat", "kcat")):
        if not shutil.which(tool):
            skip(need, "%s not installed" % tool)
            return skip_status()
    env = Env(args, args.scenario)
    ok = False
    try:
        SCENARIOS[args.scenario](args, env)
        ok = True
    finally:
        if not ok:
            log("daemon log tail:\n" + env.tail("run.log", 60))
        env.close()
    log("PASS", args.scenario)
    return skip_status()


if __name__ == "__main__":
    sys.exit(main())
