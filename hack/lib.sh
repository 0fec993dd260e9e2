# Shared by hack/servers/*.sh. Sourced, not run.
# Downloads and builds are cached outside the repository so a second run starts in seconds;
# run state (data, logs, pid files) lives under PARLEY_INFRA_DIR.
set -euo pipefail

PARLEY_CACHE="${PARLEY_CACHE:-$HOME/.cache/parley}"
PARLEY_INFRA_DIR="${PARLEY_INFRA_DIR:-$PARLEY_CACHE/run}"
HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$HACK_DIR/versions.env"
mkdir -p "$PARLEY_CACHE" "$PARLEY_INFRA_DIR"

log() { printf '[%s] %s\n' "${SERVER_NAME:-infra}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# wait_for_port PORT SECONDS [PIDFILE]: until something listens on 127.0.0.1:PORT.
wait_for_port() {
  local port=$1 seconds=$2 pidfile=${3:-} i
  for ((i = 0; i < seconds * 10; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    if [[ -n "$pidfile" ]] && ! kill -0 "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null; then
      return 1
    fi
    sleep 0.1
  done
  return 1
}

# node_address: this machine's IPv4 address on its default route (empty when it has none).
node_address() { ip -4 -o route get 1.0.0.0 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p'; }

is_running() { local pidfile=$1; [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

stop_pidfile() {
  local pidfile=$1 pid i
  is_running "$pidfile" || { rm -f "$pidfile"; return 0; }
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

# maven_copy_dependencies POM DEST: fetch a pom's runtime dependencies (jars) into DEST once.
maven_copy_dependencies() {
  local pom=$1 dest=$2
  [[ -f "$dest/.complete" ]] && return 0
  log "fetching jars for $(basename "$pom") into $dest (first run only)"
  rm -rf "$dest" && mkdir -p "$dest"
  mvn -B -q -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dest" \
    -Dmaven.repo.local="$PARLEY_CACHE/m2" "${@:3}"
  touch "$dest/.complete"
}

# The JDK 17 java binary (a path, so setsid/nohup can run it).
java17_bin() {
  local java_home=${PARLEY_JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}
  [[ -x "$java_home/bin/java" ]] || java_home=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")
  echo "$java_home/bin/java"
}

java17() { "$(java17_bin)" "$@"; }
