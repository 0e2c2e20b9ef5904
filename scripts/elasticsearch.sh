#!/usr/bin/env bash
# The Elasticsearch test server: Elasticsearch's own minimal test distribution
# (org.elasticsearch.distribution.integ-test-zip from Maven Central), run on loopback
# with security off. See ../shared/design/architecture.md §7 for what it contains.
#
#   scripts/elasticsearch.sh fetch    download (mvn) and unpack into the cache, once
#   scripts/elasticsearch.sh start    start on 127.0.0.1:$ES_PORT, wait for yellow health
#   scripts/elasticsearch.sh stop     stop the one started here (pid file), wait for exit
#   scripts/elasticsearch.sh status   print cluster health, or "not running" (exit 3)
#
# Environment (all optional):
#   ES_VERSION    distribution version (default below; 9.x is not on Maven Central)
#   ES_PORT       HTTP port (9200)
#   ES_JAVA_HOME  JDK to run on (default: the pinned one, then a fallback search)
#   ES_HEAP       heap size (512m)
#   ES_USER       system user it runs as when started by root (innonet-es)
#   ES_CACHE      unpacked distributions ($XDG_CACHE_HOME or ~/.cache /innonet/elasticsearch)
#   ES_RUN_DIR    config, data, logs and pid file of one server (/tmp/innonet-es-<uid>/<port>)
#   ES_WAIT_S     seconds to wait for the cluster to turn yellow (120)
#   ES_KEEP_DATA  1 = keep the data directory across restarts (default: fresh data on start)
#   M2_REPO       Maven local repository (~/.m2/repository)
set -euo pipefail

ES_VERSION="${ES_VERSION:-8.19.21}"
# Pinned JDK: Debian's OpenJDK 17 (see _pick_java); the others are fallbacks.
ES_PINNED_JAVA="${ES_PINNED_JAVA:-/usr/lib/jvm/java-17-openjdk-amd64}"
ES_PORT="${ES_PORT:-9200}"
ES_HOST="127.0.0.1"
ES_HEAP="${ES_HEAP:-512m}"
ES_USER="${ES_USER:-innonet-es}"
ES_CACHE="${ES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/innonet/elasticsearch}"
ES_DIST="$ES_CACHE/$ES_VERSION"
ES_RUN_BASE="${ES_RUN_BASE:-/tmp/innonet-es-$(id -u)}"
ES_RUN_DIR="${ES_RUN_DIR:-$ES_RUN_BASE/$ES_PORT}"
ES_PID_FILE="$ES_RUN_DIR/elasticsearch.pid"
ES_WAIT_S="${ES_WAIT_S:-120}"
M2_REPO="${M2_REPO:-$HOME/.m2/repository}"
ES_URL="http://$ES_HOST:$ES_PORT"
CLUSTER_NAME="innonet-test"

log() { printf '[elasticsearch.sh] %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

# GET a URL and print the body; non-zero when it cannot be reached or answers >= 400.
http_get() {
  local url="$1" max_s="${2:-5}"
  if command -v curl >/dev/null 2>&1; then
    curl -fsS --max-time "$max_s" "$url" 2>/dev/null
  elif command -v python3 >/dev/null 2>&1; then
    python3 - "$url" "$max_s" <<'PY' 2>/dev/null
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])) as r:
    sys.stdout.write(r.read().decode())
PY
  else
    die "need curl or python3 to talk to Elasticsearch"
  fi
}

# (GET / answers 405 in the test distribution: ask the health API instead.)
es_answers() { http_get "$ES_URL/_cluster/health" 3 >/dev/null; }

# ---------------------------------------------------------------------------- fetch

unpack_zip() {
  local zip="$1" dest="$2"
  if command -v unzip >/dev/null 2>&1; then
    unzip -q "$zip" -d "$dest"
  elif command -v python3 >/dev/null 2>&1; then
    python3 -m zipfile -e "$zip" "$dest"
  elif command -v jar >/dev/null 2>&1; then
    (cd "$dest" && jar xf "$zip")
  else
    die "need unzip, python3 or jar to unpack $zip"
  fi
}

cmd_fetch() {
  if [[ -x "$ES_DIST/bin/elasticsearch" && -f "$ES_DIST/.innonet-unpacked" ]]; then
    log "Elasticsearch $ES_VERSION already in $ES_DIST"
    return 0
  fi
  local rel="org/elasticsearch/distribution/integ-test-zip/elasticsearch/$ES_VERSION"
  local zip="$M2_REPO/$rel/elasticsearch-$ES_VERSION.zip"
  if [[ ! -s "$zip" ]]; then
    command -v mvn >/dev/null 2>&1 || die "mvn not found (needed to fetch Elasticsearch $ES_VERSION from Maven Central)"
    log "fetching Elasticsearch $ES_VERSION test distribution from Maven Central (mvn)"
    mvn -q -B -U "-Dmaven.repo.local=$M2_REPO" \
      org.apache.maven.plugins:maven-dependency-plugin:3.6.1:get \
      -DgroupId=org.elasticsearch.distribution.integ-test-zip -DartifactId=elasticsearch \
      "-Dversion=$ES_VERSION" -Dpackaging=zip -Dtransitive=false </dev/null ||
      die "mvn could not fetch org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip"
    [[ -s "$zip" ]] || die "mvn succeeded but $zip is missing (custom localRepository? set M2_REPO)"
  else
    log "using $zip"
  fi
  if [[ -s "$zip.sha1" ]] && command -v sha1sum >/dev/null 2>&1; then
    local want got
    want="$(cut -c1-40 "$zip.sha1")"
    got="$(sha1sum "$zip" | cut -c1-40)"
    [[ "$want" == "$got" ]] || die "checksum mismatch for $zip (sha1 $got, expected $want); delete it and fetch again"
  fi
  mkdir -p "$ES_CACHE"
  local tmp
  tmp="$(mktemp -d "$ES_CACHE/.unpack-$ES_VERSION.XXXXXX")"
  # shellcheck disable=SC2064  # expand now: $tmp is local
  trap "rm -rf '$tmp'" EXIT
  unpack_zip "$zip" "$tmp" || die "could not unpack $zip"
  [[ -d "$tmp/elasticsearch-$ES_VERSION/bin" ]] || die "unexpected layout in $zip"
  chmod -R u+rwX,go+rX "$tmp/elasticsearch-$ES_VERSION"
  chmod +x "$tmp/elasticsearch-$ES_VERSION"/bin/*
  touch "$tmp/elasticsearch-$ES_VERSION/.innonet-unpacked"
  rm -rf "$ES_DIST"
  mv "$tmp/elasticsearch-$ES_VERSION" "$ES_DIST"
  rm -rf "$tmp"
  trap - EXIT
  log "Elasticsearch $ES_VERSION unpacked into $ES_DIST"
}

# ---------------------------------------------------------------------------- start

java_major() {
  # Major version of the JDK at $1 ("17", "25"), empty when it does not run.
  "$1/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9][0-9]*\).*/\1/p' | head -n1
}

# The JDK to run on. Pinned: Debian's OpenJDK 17, the minimum Elasticsearch 8.x supports
# and the one a plain Debian 12 CI image installs; 8.19.21 also starts on Temurin 25,
# which is the first fallback.
pick_java() {
  local candidates=()
  [[ -n "${ES_JAVA_HOME:-}" ]] && candidates+=("$ES_JAVA_HOME")
  candidates+=("$ES_PINNED_JAVA")
  local g
  for g in /usr/lib/jvm/java-17-openjdk-* /usr/lib/jvm/temurin-25-jdk-* /usr/lib/jvm/java-21-openjdk-* \
    /usr/lib/jvm/temurin-21-jdk-* /usr/lib/jvm/temurin-17-jdk-* /usr/lib/jvm/*; do
    [[ -d "$g" ]] && candidates+=("$g")
  done
  [[ -n "${JAVA_HOME:-}" ]] && candidates+=("$JAVA_HOME")
  if command -v java >/dev/null 2>&1; then
    candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
  fi
  local jh major
  for jh in "${candidates[@]}"; do
    [[ -x "$jh/bin/java" ]] || continue
    major="$(java_major "$jh")"
    if [[ -n "$major" && "$major" -ge 17 ]]; then
      if [[ -n "${ES_JAVA_HOME:-}" && "$jh" != "$ES_JAVA_HOME" ]]; then
        log "ES_JAVA_HOME=$ES_JAVA_HOME is not a usable JDK >= 17; using $jh"
      fi
      printf '%s\n' "$jh"
      return 0
    fi
  done
  die "no JDK >= 17 found (set ES_JAVA_HOME; looked in /usr/lib/jvm, JAVA_HOME and PATH)"
}

ensure_user() {
  if ! id -u "$ES_USER" >/dev/null 2>&1; then
    log "creating system user $ES_USER (Elasticsearch refuses to run as root)"
    local nologin=/usr/sbin/nologin
    [[ -x "$nologin" ]] || nologin=/bin/false
    useradd --system --no-create-home --home-dir /nonexistent --shell "$nologin" "$ES_USER" ||
      die "could not create user $ES_USER (useradd)"
  fi
}

# The prefix that runs a command as the server's user (root -> $ES_USER, others -> themselves).
run_as_prefix() {
  RUN_AS=()
  if [[ "$(id -u)" -ne 0 ]]; then
    return 0
  elif command -v runuser >/dev/null 2>&1; then
    RUN_AS=(runuser -u "$ES_USER" --)
  elif command -v setpriv >/dev/null 2>&1; then
    RUN_AS=(setpriv "--reuid=$ES_USER" "--regid=$ES_USER" --init-groups --)
  else
    die "need runuser or setpriv to drop root for $ES_USER"
  fi
}

as_es_user() {
  run_as_prefix
  "${RUN_AS[@]}" "$@"
}

# The install the server user runs from: the cache itself when that user can read it,
# else a root-owned, world-readable copy next to the run dirs (/root is usually 0700).
es_home() {
  if as_es_user test -r "$ES_DIST/lib" -a -x "$ES_DIST/bin/elasticsearch" 2>/dev/null; then
    printf '%s\n' "$ES_DIST"
    return 0
  fi
  local copy="$ES_RUN_BASE/install-$ES_VERSION"
  if [[ ! -f "$copy/.innonet-unpacked" ]]; then
    log "copying $ES_DIST to $copy (readable by $ES_USER)"
    rm -rf "$copy" "$copy.tmp"
    cp -R "$ES_DIST" "$copy.tmp"
    chmod -R u+rwX,go+rX-w "$copy.tmp"
    mv "$copy.tmp" "$copy"
  fi
  printf '%s\n' "$copy"
}

pid_alive() {
  local pid="$1"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'org.elasticsearch'
}

read_pid() { [[ -s "$ES_PID_FILE" ]] && tr -dc '0-9' <"$ES_PID_FILE" || true; }

log_tail() {
  local f
  for f in "$ES_RUN_DIR/startup.out" "$ES_RUN_DIR/logs/$CLUSTER_NAME.log"; do
    if [[ -s "$f" ]]; then
      log "---- last lines of $f ----"
      tail -n 60 "$f" >&2
    fi
  done
}

wait_yellow() {
  local deadline=$((SECONDS + ES_WAIT_S)) body pid
  while ((SECONDS < deadline)); do
    if body="$(http_get "$ES_URL/_cluster/health?wait_for_status=yellow&timeout=5s" 10)" &&
      [[ "$body" == *'"status":"green"'* || "$body" == *'"status":"yellow"'* ]]; then
      printf '%s\n' "$body"
      return 0
    fi
    pid="$(read_pid)"
    if [[ -n "$pid" ]] && ! pid_alive "$pid"; then
      log "Elasticsearch (pid $pid) exited during start-up"
      return 1
    fi
    sleep 1
  done
  log "Elasticsearch did not turn yellow within ${ES_WAIT_S}s"
  return 1
}

cmd_start() {
  if es_answers; then
    log "something already answers on $ES_URL; not starting another"
    http_get "$ES_URL/_cluster/health" 5 || true
    echo
    return 0
  fi
  local pid
  pid="$(read_pid)"
  if [[ -n "$pid" ]] && pid_alive "$pid"; then
    log "Elasticsearch (pid $pid) is starting; waiting for it"
    wait_yellow || {
      log_tail
      exit 1
    }
    return 0
  fi

  cmd_fetch
  local java_home home
  java_home="$(pick_java)"
  log "JDK: $java_home ($("$java_home/bin/java" -version 2>&1 | head -n1))"
  if [[ "$(id -u)" -eq 0 ]]; then
    ensure_user
    mkdir -p "$ES_RUN_BASE"
    chmod 0755 "$ES_RUN_BASE"
  fi
  home="$(es_home)"

  # A fresh config (copied from the distribution), logs, and a fresh data dir per start.
  mkdir -p "$ES_RUN_DIR"
  rm -rf "$ES_RUN_DIR/config" "$ES_RUN_DIR/tmp" "$ES_PID_FILE" "$ES_RUN_DIR/startup.out"
  [[ "${ES_KEEP_DATA:-0}" == 1 ]] || rm -rf "$ES_RUN_DIR/data"
  cp -R "$home/config" "$ES_RUN_DIR/config"
  mkdir -p "$ES_RUN_DIR/data" "$ES_RUN_DIR/logs" "$ES_RUN_DIR/tmp"
  cat >>"$ES_RUN_DIR/config/elasticsearch.yml" <<YAML

# ---- innonet test server (scripts/elasticsearch.sh) ----
cluster.name: $CLUSTER_NAME
node.name: $CLUSTER_NAME-$ES_PORT
discovery.type: single-node
network.host: $ES_HOST
http.port: $ES_PORT
path.data: $ES_RUN_DIR/data
path.logs: $ES_RUN_DIR/logs
xpack.security.enabled: false
# a test server: allow deleting test indices by pattern (test-*-v1)
action.destructive_requires_name: false
# a nearly full CI disk must not turn indices read-only
cluster.routing.allocation.disk.threshold_enabled: false
YAML
  if [[ "$(id -u)" -eq 0 ]]; then
    chmod 0755 "$ES_RUN_DIR"
    chown -R "$ES_USER:" "$ES_RUN_DIR"
  fi

  log "starting Elasticsearch $ES_VERSION on $ES_URL (home $home, data $ES_RUN_DIR/data)"
  # -d returns once the node has started (or failed); bound it in case it hangs.
  local bound=()
  command -v timeout >/dev/null 2>&1 && bound=(timeout "$ES_WAIT_S")
  run_as_prefix
  set +e
  "${bound[@]}" "${RUN_AS[@]}" env \
    ES_JAVA_HOME="$java_home" \
    ES_PATH_CONF="$ES_RUN_DIR/config" \
    ES_TMPDIR="$ES_RUN_DIR/tmp" \
    CLI_JAVA_OPTS="-Djava.io.tmpdir=$ES_RUN_DIR/tmp" \
    ES_JAVA_OPTS="-Xms$ES_HEAP -Xmx$ES_HEAP ${ES_EXTRA_JAVA_OPTS:-}" \
    "$home/bin/elasticsearch" -d -p "$ES_PID_FILE" </dev/null >"$ES_RUN_DIR/startup.out" 2>&1
  local rc=$?
  set -e
  if ((rc != 0)); then
    if ((rc == 124)); then
      log "bin/elasticsearch -d did not return within ${ES_WAIT_S}s"
    else
      log "bin/elasticsearch -d exited with $rc"
    fi
    log_tail
    cmd_stop
    exit 1
  fi
  if ! wait_yellow; then
    log_tail
    cmd_stop
    exit 1
  fi
  log "Elasticsearch $ES_VERSION is up on $ES_URL (pid $(read_pid); stop with: $0 stop)"
}

# ---------------------------------------------------------------------------- stop/status

cmd_stop() {
  local pid
  pid="$(read_pid)"
  if [[ -z "$pid" ]]; then
    log "not running (no pid file at $ES_PID_FILE)"
    return 0
  fi
  if ! pid_alive "$pid"; then
    log "not running (stale pid file, pid $pid)"
    rm -f "$ES_PID_FILE"
    return 0
  fi
  log "stopping Elasticsearch (pid $pid)"
  kill -TERM "$pid"
  local deadline=$((SECONDS + 60))
  while pid_alive "$pid" && ((SECONDS < deadline)); do sleep 1; done
  if pid_alive "$pid"; then
    log "still running after 60s; sending KILL to $pid"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 1
  fi
  rm -f "$ES_PID_FILE"
  log "stopped"
}

cmd_status() {
  local body
  if body="$(http_get "$ES_URL/_cluster/health" 5)"; then
    printf '%s\n' "$body"
    return 0
  fi
  echo "not running ($ES_URL)"
  return 3
}

case "${1:-}" in
fetch) cmd_fetch ;;
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*)
  echo "usage: $0 fetch|start|stop|status" >&2
  exit 2
  ;;
esac
