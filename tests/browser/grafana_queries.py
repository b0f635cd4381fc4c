#!/usr/bin/env python3
"""Run every Redis query of the Grafana dashboard against a live finsent Redis.

usage: grafana_queries.py DASHBOARD.json REDIS_PORT SCOPE WINDOW [ALERTS(0|1)]

For each panel target (and each query variable) of deploy/grafana/dashboards/
finsent.json, builds the Redis command the redis-datasource plugin sends
(hmget / smembers / xrevrange / CLI queries), substitutes $scope, $scopes and
$window, runs it with redis-cli and checks: the command is a read of a
documented finsent key (never KEYS/SCAN), and panels that must have data
have some (the alert stream only when ALERTS is 1). Exit 1 with a message on the first failure.
"""
import json
import re
import subprocess
import sys

ALLOWED = {"HMGET", "SMEMBERS", "XREVRANGE", "ZREVRANGE", "LRANGE"}
KEY_RE = re.compile(r"^finsent:(rate:(all|topic:[a-z0-9-]+|entity:[A-Z0-9._-]+):\w+|scopes|recent|"
                    r"alerts:active|alerts:log)$")


def redis(port, args):
    out = subprocess.run(["redis-cli", "-p", str(port), "--no-raw"] + args, capture_output=True,
                         text=True, check=True).stdout
    if out.startswith("(error)"):
        raise SystemExit("grafana: %s: %s" % (" ".join(args), out.strip()))
    return out


def main():
    dash, port, scope, window = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    alerts = len(sys.argv) > 5 and sys.argv[5] == "1"
    d = json.load(open(dash))
    subst = lambda s: s.replace("$scopes", scope).replace("$scope", scope).replace("$window", window)
    cmds = []
    for v in d["templating"]["list"]:
        if v["type"] == "query":
            cmds.append(("variable " + v["name"], v["query"].split(), True))
    for p in d["panels"]:
        for t in p.get("targets", []):
            c = t.get("command")
            if t.get("type") == "cli" or (t.get("query") or "").strip():
                args = subst(t["query"]).split()
            elif c == "hmget":
                args = ["HMGET", subst(t["keyName"])] + t["field"].split()
            elif c == "smembers":
                args = ["SMEMBERS", t["keyName"]]
            elif c == "xrevrange":
                args = ["XREVRANGE", t["keyName"], "+", "-", "COUNT", str(t.get("count", 100))]
            else:
                raise SystemExit("grafana: panel '%s': unexpected command %s" % (p["title"], c))
            cmds.append(("panel '%s'" % p["title"], args,
                         c != "smembers" and (c != "xrevrange" or alerts)))
    for what, args, must_have in cmds:
        if args[0].upper() not in ALLOWED:
            raise SystemExit("grafana: %s uses %s" % (what, args[0]))
        if not KEY_RE.match(args[1]):
            raise SystemExit("grafana: %s reads an undocumented key %s" % (what, args[1]))
        out = redis(port, args)
        empty = out.strip() in ("", "(empty array)", "(empty list or set)") or \
            all(l.strip().endswith("(nil)") for l in out.strip().splitlines())
        if must_have and empty:
            raise SystemExit("grafana: %s: %s returned nothing" % (what, " ".join(args)))
    print("browser: grafana: %d dashboard queries ran against the live keys" % len(cmds))


if __name__ == "__main__":
    main()
