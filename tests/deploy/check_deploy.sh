#!/bin/sh
# Checks that the committed deployment files are safe by default
# (docs/security.md, "Deployment defaults"). ctest: deploy_files, label
# deploy. Usage: check_deploy.sh SOURCE_DIR. Exit 0 when every check
# passes, 1 with one line per failure otherwise. Plain sh, grep and awk;
# systemd-analyze is used when installed.
#
#   docker-compose.yml  every published port bound to 127.0.0.1; no
#                       literal password (only ${VAR} references); Redis
#                       with requirepass from ${REDIS_PASSWORD:?...} and
#                       appendonly yes + appendfsync always; finsent gets
#                       the password as FINSENT_REDIS_PASSWORD
#   .env                ignored by git; .env.example holds no password
#   deploy/finsent.conf no password
#   deploy/finsent.service  an unprivileged user and the sandboxing set
#   deploy/finsent.sysusers the finsent user
#   Dockerfile          runs as a non-root user
set -u
ROOT=${1:-$(dirname "$0")/../..}
fails=0
fail() {
  echo "FAIL: $*"
  fails=$((fails + 1))
}
ok() {
  echo "ok:   $*"
}

C=$ROOT/docker-compose.yml
[ -f "$C" ] || { echo "FAIL: $C missing"; exit 1; }

# ---- docker-compose.yml: published ports ---------------------------------
# The entries of every `ports:` list (short syntax "[IP:]HOST:CONTAINER").
ports=$(awk '
  /^[[:space:]]*#/ { next }
  {
    match($0, /^[[:space:]]*/); ind = RLENGTH
    if (inports && ind <= pind && $0 !~ /^[[:space:]]*-/) inports = 0
  }
  inports && /^[[:space:]]*-/ { v = $0; sub(/^[[:space:]]*-[[:space:]]*/, "", v); gsub(/["'\'']/, "", v); print v; next }
  /^[[:space:]]*ports:[[:space:]]*$/ { inports = 1; pind = ind }
' "$C")
if [ -z "$ports" ]; then
  fail "docker-compose.yml: no published port found (the check is broken?)"
fi
for p in $ports; do
  case $p in
  127.0.0.1:*:* | "[::1]":*:*) ok "port $p on loopback" ;;
  *) fail "docker-compose.yml: port '$p' is published on every interface (write 127.0.0.1:$p)" ;;
  esac
done
if grep -nE '0\.0\.0\.0' "$C" | grep -vE '^[0-9]+:[[:space:]]*#'; then
  fail "docker-compose.yml: 0.0.0.0 above"
fi
if grep -nE '^[[:space:]]*(published|host_ip):' "$C"; then
  fail "docker-compose.yml: long port syntax above: use \"127.0.0.1:HOST:CONTAINER\""
fi

# ---- docker-compose.yml: secrets --------------------------------------------
# Any key or option that names a password, a secret or requirepass must take
# its value from a variable (${VAR...} for compose, $$VAR inside a container).
bad=$(grep -nEi '(pass(word)?|secret|requirepass|token)' "$C" | grep -vE '^[0-9]+:[[:space:]]*#' |
  grep -vE '\$\{[A-Z_]+(:\?[^}]*)?\}|\$\$[A-Z_]+|\$[A-Z_]+' || true)
if [ -n "$bad" ]; then
  fail "docker-compose.yml: a literal secret?"
  echo "$bad"
else
  ok "no literal password in docker-compose.yml"
fi
grep -qE 'requirepass' "$C" || fail "docker-compose.yml: Redis has no requirepass"
grep -qF '${REDIS_PASSWORD:?' "$C" ||
  fail "docker-compose.yml: REDIS_PASSWORD must be required (\${REDIS_PASSWORD:?message})"
grep -qE 'FINSENT_REDIS_PASSWORD:[[:space:]]*\$\{REDIS_PASSWORD' "$C" ||
  fail "docker-compose.yml: finsent does not get FINSENT_REDIS_PASSWORD from REDIS_PASSWORD"
grep -qE -- '--appendonly[[:space:]]+yes' "$C" || fail "docker-compose.yml: Redis without --appendonly yes"
grep -qE -- '--appendfsync[[:space:]]+always' "$C" ||
  fail "docker-compose.yml: Redis without --appendfsync always (exactly-once counts across a host crash)"

# ---- .env ---------------------------------------------------------------------
grep -qxE '/?\.env' "$ROOT/.gitignore" 2>/dev/null || fail ".gitignore: .env is not ignored"
if [ -f "$ROOT/.env.example" ]; then
  if grep -E '^[[:space:]]*[A-Z_]*(PASSWORD|SECRET)[A-Z_]*=.+' "$ROOT/.env.example"; then
    fail ".env.example: holds a password (leave it empty: compose then refuses to start)"
  else
    ok ".env.example has no password"
  fi
else
  fail ".env.example missing"
fi
if command -v git >/dev/null 2>&1 && git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
  if git -C "$ROOT" ls-files --error-unmatch .env >/dev/null 2>&1; then
    fail ".env is tracked by git"
  fi
fi

# ---- deploy/finsent.conf ------------------------------------------------------
if grep -nE '^[[:space:]]*password[[:space:]]*=[[:space:]]*[^[:space:]]' "$ROOT/deploy/finsent.conf"; then
  fail "deploy/finsent.conf: a password (use FINSENT_REDIS_PASSWORD)"
else
  ok "no password in deploy/finsent.conf"
fi

# ---- systemd -----------------------------------------------------------------
U=$ROOT/deploy/finsent.service
if grep -qE '^User=(root|0)?$' "$U" || ! grep -qE '^(User=[a-z]|DynamicUser=yes)' "$U"; then
  fail "finsent.service: no unprivileged User= (or DynamicUser=yes)"
fi
# Lines that must be there exactly (an empty CapabilityBoundingSet= drops
# every capability), then settings whose value is free.
for d in 'CapabilityBoundingSet=' 'AmbientCapabilities=' 'NoNewPrivileges=yes' \
  'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' 'PrivateDevices=yes' \
  'ProtectKernelTunables=yes' 'ProtectKernelModules=yes' 'ProtectKernelLogs=yes' \
  'ProtectControlGroups=yes' 'ProtectClock=yes' 'ProtectHostname=yes' \
  'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' 'RestrictNamespaces=yes' \
  'RestrictRealtime=yes' 'RestrictSUIDSGID=yes' 'LockPersonality=yes' \
  'MemoryDenyWriteExecute=yes' 'SystemCallFilter=@system-service' \
  'SystemCallArchitectures=native' 'UMask=0077'; do
  grep -qxF -- "$d" "$U" || fail "finsent.service: missing $d"
done
for k in MemoryMax StateDirectory; do
  grep -qE "^$k=[^[:space:]]+" "$U" || fail "finsent.service: missing $k="
done
if grep -qE '^User=finsent' "$U"; then
  grep -qE '^u[[:space:]]+finsent[[:space:]]' "$ROOT/deploy/finsent.sysusers" 2>/dev/null ||
    fail "deploy/finsent.sysusers: no 'u finsent' line for User=finsent"
fi
if command -v systemd-analyze >/dev/null 2>&1 &&
  systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
  tmp=$(mktemp -d)
  cp "$U" "$tmp/finsent.service"
  out=$(systemd-analyze security --offline=yes "$tmp/finsent.service" 2>&1)
  rm -rf "$tmp"
  score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
  if [ -z "$score" ]; then
    echo "skip: systemd-analyze security gave no score"
  elif awk "BEGIN { exit !($score <= 2.5) }"; then
    ok "systemd-analyze security: exposure $score"
  else
    fail "systemd-analyze security: exposure $score (above 2.5)"
  fi
else
  echo "skip: systemd-analyze security --offline not available"
fi

# ---- Dockerfile -----------------------------------------------------------------
user=$(grep -E '^USER[[:space:]]' "$ROOT/Dockerfile" | tail -1 | awk '{print $2}')
case $user in
'' | root | 0 | 0:*) fail "Dockerfile: the image runs as root" ;;
*) ok "Docker image runs as $user" ;;
esac

if [ "$fails" -ne 0 ]; then
  echo "$fails check(s) failed"
  exit 1
fi
echo "deployment files: every check passed"
