#!/usr/bin/env bash
# The browser the browser tests (services/web/e2e) drive: Debian's own chromium package.
# Playwright's downloaded browser builds are not used: their download host is none of the
# package registries the project's machines reach, and Debian's build gets security fixes
# with the rest of the system.
#
#   hack/chromium.sh          install chromium with apt-get if it is missing (idempotent:
#                             a no-op taking milliseconds once installed), print its version
#   hack/chromium.sh path     the same, then print the executable's path
#
# PARLEY_CHROMIUM=/path/to/chrome names another Chromium-based browser (a laptop that is
# not Debian); the tests read the same variable.
#
# The version is not pinned: Debian's archive serves only the current build of a package
# that gets security updates, so a pin would stop installing at the next update.
set -euo pipefail

log() { printf '[chromium] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

find_chromium() {
  if [[ -n "${PARLEY_CHROMIUM:-}" ]]; then
    [[ -x "$PARLEY_CHROMIUM" ]] || die "PARLEY_CHROMIUM=$PARLEY_CHROMIUM is not an executable file"
    printf '%s' "$PARLEY_CHROMIUM"
    return 0
  fi
  command -v chromium 2>/dev/null || true
}

install_chromium() {
  command -v apt-get >/dev/null ||
    die "chromium is missing and this is not a Debian-like system: install Chromium and set PARLEY_CHROMIUM to its executable"
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "chromium is missing: installing it needs root (run 'apt-get install chromium' as root)"
    sudo=(sudo)
  fi
  log "installing Debian's chromium (first run only)"
  # Fonts, so that screenshots show text; the rest of the recommended packages are not needed headless.
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq ||
    die "apt-get update failed: is a Debian mirror reachable?"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation fonts-noto-color-emoji >/dev/null ||
    die "apt-get install chromium failed (see the apt output above)"
}

chromium=$(find_chromium)
if [[ -z "$chromium" ]]; then
  install_chromium
  chromium=$(find_chromium)
  [[ -n "$chromium" ]] || die "apt-get installed chromium but no 'chromium' executable is on PATH"
fi
version=$("$chromium" --version 2>/dev/null) || die "$chromium does not start: '$chromium --version' failed"
log "$version ($chromium)"
if [[ "${1:-}" == "path" ]]; then printf '%s\n' "$chromium"; fi
