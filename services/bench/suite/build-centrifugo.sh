#!/usr/bin/env bash
# Builds Centrifugo, the benchmark suite's peer (make bench-peers), from its Go module
# into ~/.cache/parley/centrifugo-<version>/centrifugo. Only the Go module proxy is used;
# a build already there is reused. Prints the binary's path. The first build compiles a few
# hundred packages (minutes on a quiet machine, up to an hour on a loaded one), niced so
# that it does not hold up the rest of the machine.
set -euo pipefail
VERSION="${CENTRIFUGO_VERSION:-v6.9.1}"
CACHE="${PARLEY_CACHE:-$HOME/.cache/parley}"
DEST="$CACHE/centrifugo-${VERSION#v}"
if [[ -x "$DEST/centrifugo" ]]; then
  echo "$DEST/centrifugo"
  exit 0
fi
command -v go >/dev/null || { echo "build-centrifugo: go is not installed (Debian: apt-get install golang, or /usr/local/go)" >&2; exit 1; }
mkdir -p "$DEST"
export GOPATH="${GOPATH:-$CACHE/go}" GOFLAGS="${GOFLAGS:-} -trimpath" CGO_ENABLED=0
# The version stamped as its release builds do (otherwise it reports 0.0.0, a development build).
GOBIN="$DEST" nice -n 10 go install -ldflags "-s -w -X github.com/centrifugal/centrifugo/v6/internal/build.Version=${VERSION#v}" \
  "github.com/centrifugal/centrifugo/v6@${VERSION}" >&2
echo "$DEST/centrifugo"
