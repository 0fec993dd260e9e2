#!/usr/bin/env bash
# Builds the images the one-node cluster (hack/cluster/cluster.sh) runs, with its dockerd,
# and imports them into its containerd (`docker save | ctr -n k8s.io images import -`):
# nothing is pulled, no registry is needed.
#   hack/cluster/images.sh node           the pause image (static Go binary, hack/cluster/pause)
#   hack/cluster/images.sh rootfs         only the Debian root file system (debootstrap), cached
#   hack/cluster/images.sh base           the Node.js base: Debian bookworm from debootstrap
#                                         (minbase) plus the Node.js binary the project runs
#   hack/cluster/images.sh parley TAG...  images/Dockerfile's fast path (target `host`): the
#                                         dist/ built here and production node_modules, on the
#                                         base above, tagged parley:TAG for each TAG
# Each step is skipped when its inputs did not change (stamps and tarballs in
# $PARLEY_CACHE/cluster); `parley` needs `npm run build` first (make e2e-cluster does it).
# shellcheck disable=SC2034 # read by log() in lib.sh
SERVER_NAME=cluster-images
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$(cd "$(dirname "$0")" && pwd)/../lib.sh"
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$HACK_DIR/cluster/common.sh"

IMAGE_CACHE="$PARLEY_CACHE/cluster"
REPO_DIR="$(cd "$HACK_DIR/.." && pwd)"
NODE_HOME="$PARLEY_CACHE/node-$NODE_VERSION"
# Debian's archive as apt on this machine is set up for (debootstrap needs a mirror).
DEBIAN_MIRROR=${PARLEY_DEBIAN_MIRROR:-http://deb.debian.org/debian}

ctr_k8s() { ctr --address "$CONTAINERD_SOCKET" -n k8s.io "$@"; }
image_id() { docker_cli image inspect --format '{{.Id}}' "$1" 2>/dev/null; }

# containerd_name IMAGE: the full name containerd keeps IMAGE under (as kubelet asks for it).
containerd_name() {
  local image=$1 first=${1%%/*}
  if [[ $image != */* ]]; then echo "docker.io/library/$image"
  elif [[ $first == *.* || $first == *:* ]]; then echo "$image"
  else echo "docker.io/$image"; fi
}

# import IMAGE...: into containerd's k8s.io namespace, unless it holds the same build there
# (the dockerd image id each import came from is kept beside containerd's state).
import() {
  local image stamp missing=() start=$SECONDS
  mkdir -p "$CLUSTER_DIR/imported"
  for image in "$@"; do
    stamp="$CLUSTER_DIR/imported/$(containerd_name "$image" | tr '/:' '__')"
    [[ -n $(ctr_k8s images ls -q "name==$(containerd_name "$image")") && $(cat "$stamp" 2>/dev/null) == "$(image_id "$image")" ]] ||
      missing+=("$image")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  docker_cli save "${missing[@]}" | ctr_k8s images import - >/dev/null || die "importing ${missing[*]} into containerd failed"
  for image in "${missing[@]}"; do
    image_id "$image" >"$CLUSTER_DIR/imported/$(containerd_name "$image" | tr '/:' '__')"
  done
  log "imported ${missing[*]} into containerd in $((SECONDS - start))s"
}

build_pause() {
  local dir="$IMAGE_CACHE/pause" want
  want=$({ go version; cat "$HACK_DIR/cluster/pause/"*; } | sha256sum | cut -d' ' -f1)
  if [[ $(cat "$dir/.stamp" 2>/dev/null) != "$want" ]] || [[ -z $(image_id "$PAUSE_IMAGE") ]]; then
    mkdir -p "$dir"
    CGO_ENABLED=0 GOWORK=off GOFLAGS=-buildvcs=false GOCACHE="${PARLEY_GOCACHE:-$PARLEY_CACHE/go/build}" \
      go -C "$HACK_DIR/cluster/pause" build -trimpath -ldflags "-s -w" -o "$dir/pause" . || die "go build of the pause binary failed"
    cp "$HACK_DIR/cluster/pause/Dockerfile" "$dir/Dockerfile"
    docker_cli build --quiet --network none -t "$PAUSE_IMAGE" "$dir" >/dev/null || die "docker build of $PAUSE_IMAGE failed"
    echo "$want" >"$dir/.stamp"
  fi
  import "$PAUSE_IMAGE"
}

# unmount_rootfs DIR: what debootstrap mounted under DIR (proc, sys) and left after a failure,
# so that removing DIR never descends into the host's /proc or /sys.
unmount_rootfs() {
  local mount
  for mount in $(awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r); do umount -l "$mount" || true; done
}

# build_debian: Debian bookworm (minbase: no documentation, no apt lists) as an image, from
# a rootfs tarball made once by debootstrap (2.5 to 7 minutes). DEBIAN_EXTRA: what the
# official Node.js binary needs beyond minbase.
DEBIAN_EXTRA=libatomic1
DEBIAN_TARBALL="$IMAGE_CACHE/debian-bookworm-minbase-${DEBIAN_EXTRA//,/-}.tar"
build_debian() {
  build_rootfs
  [[ -n $(image_id "$BASE_IMAGE") ]] && return 0
  docker_cli import "$DEBIAN_TARBALL" "$BASE_IMAGE" >/dev/null || die "docker import of $BASE_IMAGE failed"
}

# build_rootfs: the debootstrap tarball alone (no dockerd needed), so that cluster.sh can
# make it while the node binaries compile: one waits on the network and disk, the other
# on the CPU.
build_rootfs() {
  local tarball=$DEBIAN_TARBALL
  if [[ ! -f $tarball ]]; then
    local rootfs="$IMAGE_CACHE/.rootfs" start=$SECONDS
    log "debootstrap bookworm (minbase) from $DEBIAN_MIRROR (first run only: a few minutes)"
    unmount_rootfs "$rootfs"
    rm -rf "$rootfs" && mkdir -p "$rootfs"
    debootstrap --variant=minbase --include="$DEBIAN_EXTRA" bookworm "$rootfs" "$DEBIAN_MIRROR" >"$IMAGE_CACHE/debootstrap.log" 2>&1 ||
      { unmount_rootfs "$rootfs"; tail -n 20 "$IMAGE_CACHE/debootstrap.log" >&2; die "debootstrap failed (is $DEBIAN_MIRROR reachable? PARLEY_DEBIAN_MIRROR)"; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
      "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/* "$rootfs"/var/log/*
    unmount_rootfs "$rootfs"
    tar -C "$rootfs" --numeric-owner --one-file-system -cf "$tarball.tmp" . && mv -f "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
    log "debootstrap done in $((SECONDS - start))s"
  fi
}

# build_node_base: BASE_IMAGE plus the pinned Node.js binary and the user `node` (uid 1000),
# as the official node image has them: what images/Dockerfile builds on here.
build_node_base() {
  build_debian
  [[ -x $NODE_HOME/bin/node ]] || "$HACK_DIR/node.sh" >/dev/null || die "installing Node.js $NODE_VERSION failed (hack/node.sh)"
  local dir="$IMAGE_CACHE/node-base" want
  want=$({ sha256sum "$NODE_HOME/bin/node"; image_id "$BASE_IMAGE"; cat "$HACK_DIR/cluster/node-base.Dockerfile"; } | sha256sum | cut -d' ' -f1)
  [[ $(cat "$dir/.stamp" 2>/dev/null) == "$want" && -n $(image_id "$NODE_IMAGE") ]] && return 0
  rm -rf "$dir" && mkdir -p "$dir"
  cp "$NODE_HOME/bin/node" "$dir/node"
  docker_cli build --quiet --network none --build-arg BASE="$BASE_IMAGE" -f "$HACK_DIR/cluster/node-base.Dockerfile" \
    -t "$NODE_IMAGE" "$dir" >/dev/null || die "docker build of $NODE_IMAGE failed"
  rm -f "$dir/node"
  echo "$want" >"$dir/.stamp"
}

# stage_context: the fast path's build context: package.json, the compiled dist/ with the
# SBOM, and the production node_modules (npm ci --omit=dev, again only when the lockfile changed).
stage_context() {
  local context="$IMAGE_CACHE/parley-context" lock_hash
  [[ -f "$REPO_DIR/dist/services/cli/parley.js" ]] || die "no dist/ to copy: run npm run build (make build) first"
  mkdir -p "$context"
  lock_hash=$(cat "$REPO_DIR/package.json" "$REPO_DIR/package-lock.json" | sha256sum | cut -d' ' -f1)
  if [[ $(cat "$context/.modules-stamp" 2>/dev/null) != "$lock_hash" ]]; then
    log "installing the production node_modules for the image (npm ci --omit=dev)"
    cp "$REPO_DIR/package.json" "$REPO_DIR/package-lock.json" "$REPO_DIR/.npmrc" "$context/"
    (cd "$context" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null) || die "npm ci --omit=dev failed"
    echo "$lock_hash" >"$context/.modules-stamp"
  fi
  cp "$REPO_DIR/package.json" "$context/package.json"
  # The image carries the SBOM of what it ships (dist/sbom.cdx.json; cached by the lockfile).
  (cd "$REPO_DIR" && node dist/services/tools/generate-sbom.js >/dev/null) || die "writing the SBOM failed (make sbom)"
  # dist/ as the build made it, without what a test run may leave there.
  rm -rf "$context/dist" && cp -a "$REPO_DIR/dist" "$context/dist"
  # The entry point the image's `parley` symlink names (tsc writes it 0644).
  chmod 0755 "$context/dist/services/cli/parley.js"
  printf '.modules-stamp\n.npmrc\npackage-lock.json\n' >"$context/.dockerignore"
  echo "$context"
}

build_parley() {
  [[ $# -gt 0 ]] || die "usage: images.sh parley TAG..."
  build_node_base
  local context start=$SECONDS version revision source_url tags=() tag
  context=$(stage_context)
  version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$REPO_DIR/package.json")
  revision=$(git -C "$REPO_DIR" rev-parse HEAD 2>/dev/null || true)
  source_url=$(git -C "$REPO_DIR" remote get-url origin 2>/dev/null || true)
  for tag in "$@"; do tags+=(-t "parley:$tag"); done
  DOCKER_BUILDKIT=1 docker_cli build --quiet --network none -f "$REPO_DIR/images/Dockerfile" \
    --build-arg BASE="$NODE_IMAGE" --build-arg SOURCE=host \
    --build-arg VERSION="$version" --build-arg REVISION="$revision" --build-arg SOURCE_URL="$source_url" \
    "${tags[@]}" "$context" >/dev/null || die "docker build of images/Dockerfile (SOURCE=host) failed"
  local size
  size=$(docker_cli image inspect --format '{{.Size}}' "parley:$1")
  log "built parley:$* in $((SECONDS - start))s ($((size / 1000000)) MB)"
  local images=()
  for tag in "$@"; do images+=("parley:$tag"); done
  import "${images[@]}"
}

main() {
  case "${1:-}" in
    node) build_pause ;;
    base) build_node_base ;;
    rootfs) build_rootfs ;;
    parley) shift && build_parley "$@" ;;
    *)
      echo "usage: $0 node|base|rootfs|parley TAG..." >&2
      exit 2
      ;;
  esac
}

main "$@"; exit # one line: bash has read it all before it runs (safe to edit meanwhile)
