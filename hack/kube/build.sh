#!/usr/bin/env bash
# Builds the Kubernetes control plane hack/servers/kube.sh runs, from Go modules (no
# release tarballs, no images): kube-apiserver, kube-controller-manager and kubectl from
# k8s.io/kubernetes (hack/kube/go.mod), etcd from go.etcd.io/etcd/server/v3
# (hack/etcd/go.mod) and helm from helm.sh/helm (hack/helm/go.mod), at the versions in
# hack/versions.env, into $PARLEY_CACHE/kube-$KUBE_VERSION/bin.
#   hack/kube/build.sh    builds what is missing or stale (a few seconds when nothing is)
# A binary is rebuilt only when its module's go.mod/go.sum, its link flags or the Go
# version changed (bin/.<module>.stamp). Modules and the build cache live under
# $PARLEY_CACHE/go (PARLEY_GOMODCACHE / PARLEY_GOCACHE to move them).
# After a bump in versions.env, run hack/kube/pin.sh first: it rewrites the go.mod files.
# shellcheck disable=SC2034 # read by log() in lib.sh
SERVER_NAME=kube-build
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$(cd "$(dirname "$0")" && pwd)/../lib.sh"

KUBE_BIN_DIR="$PARLEY_CACHE/kube-$KUBE_VERSION/bin"
export GOMODCACHE="${PARLEY_GOMODCACHE:-$PARLEY_CACHE/go/mod}"
export GOCACHE="${PARLEY_GOCACHE:-$PARLEY_CACHE/go/build}"
# -mod=readonly: a build never edits go.mod/go.sum; -modcacherw: `rm -rf $PARLEY_CACHE` works.
export GOFLAGS="-mod=readonly -modcacherw -buildvcs=false"
export CGO_ENABLED=0 GOWORK=off

command -v go >/dev/null || die "go is not installed (hack/kube/go.mod needs Go $(sed -n 's/^go //p' "$HACK_DIR/kube/go.mod") or newer)"

# module_version DIR MODULE: the version of MODULE that DIR's go.mod builds with.
module_version() { go -C "$1" list -m -f '{{.Version}}' "$2"; }

# expect_pinned DIR MODULE VERSION: dies when versions.env and DIR/go.mod disagree.
expect_pinned() {
  local dir=$1 module=$2 want=$3 have
  have=$(module_version "$dir" "$module") || die "cannot read $module's version from $dir/go.mod"
  [[ $have == "$want" ]] ||
    die "$dir/go.mod pins $module $have but hack/versions.env asks for $want: run hack/kube/pin.sh"
}

# build NAME DIR LDFLAGS OUTPUT=PACKAGE...: builds the packages of module DIR into
# KUBE_BIN_DIR unless the stamp says the binaries there were built from the same inputs.
build() {
  local name=$1 dir=$2 ldflags=$3 stamp want out pkg tmp start
  shift 3
  stamp="$KUBE_BIN_DIR/.$name.stamp"
  want=$({ go version; echo "$ldflags"; echo "$*"; cat "$dir/go.mod" "$dir/go.sum"; } | sha256sum | cut -d' ' -f1)
  local missing=0
  for out in "$@"; do [[ -x "$KUBE_BIN_DIR/${out%%=*}" ]] || missing=1; done
  if [[ $missing -eq 0 && -f "$stamp" && $(cat "$stamp") == "$want" ]]; then return 0; fi
  tmp=$(mktemp -d "$KUBE_BIN_DIR/.build.XXXXXX")
  start=$SECONDS
  log "building $name: ${*#*=} (first run only: several minutes)"
  for out in "$@"; do
    pkg=${out#*=}
    mkdir -p "$(dirname "$tmp/${out%%=*}")" "$(dirname "$KUBE_BIN_DIR/${out%%=*}")"
    # One `go build` per binary: the build cache makes the shared packages compile once.
    go -C "$dir" build -trimpath -ldflags "$ldflags" -o "$tmp/${out%%=*}" "$pkg" ||
      { rm -rf "$tmp"; die "go build $pkg failed"; }
    log "  built ${out%%=*} ($((SECONDS - start))s so far)"
  done
  for out in "$@"; do mv -f "$tmp/${out%%=*}" "$KUBE_BIN_DIR/${out%%=*}"; done
  rm -rf "$tmp"
  echo "$want" >"$stamp"
  log "built $name in $((SECONDS - start))s"
}

main() {
  mkdir -p "$KUBE_BIN_DIR"
  # Parallel `up`s (hack/infra.sh) wait for one build instead of racing it.
  exec 9>"$KUBE_BIN_DIR/.build.lock"
  flock 9

  local kube_dir="$HACK_DIR/kube" etcd_dir="$HACK_DIR/etcd" helm_dir="$HACK_DIR/helm"
  local helm_module="helm.sh/helm/v${HELM_VERSION%%.*}"
  expect_pinned "$kube_dir" k8s.io/kubernetes "v$KUBE_VERSION"
  expect_pinned "$etcd_dir" go.etcd.io/etcd/server/v3 "v$ETCD_VERSION"
  expect_pinned "$helm_dir" "$helm_module" "v$HELM_VERSION"

  # What kube-apiserver's /version and `kubectl version` report, as Kubernetes' own
  # hack/lib/version.sh stamps it; the build date is the release's (the module's time),
  # so that a rebuild is identical. The commit is not known from the module: left empty.
  local major minor build_date kube_ld="-s -w" pkg
  IFS=. read -r major minor _ <<<"$KUBE_VERSION"
  build_date=$(go -C "$kube_dir" list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' k8s.io/kubernetes)
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    kube_ld+=" -X $pkg.gitVersion=v$KUBE_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    kube_ld+=" -X $pkg.gitTreeState=clean -X $pkg.gitCommit= -X $pkg.buildDate=$build_date"
  done
  build kube "$kube_dir" "$kube_ld" \
    kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver \
    kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager \
    kubectl=k8s.io/kubernetes/cmd/kubectl

  # The node of hack/cluster: only when asked (`build.sh node`), as the control plane's
  # tests do not need it. A group of its own, so that building it relinks nothing above.
  if [[ ${1:-} == node ]]; then
    build kube-node "$kube_dir" "$kube_ld" \
      kubelet=k8s.io/kubernetes/cmd/kubelet \
      kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler \
      kube-proxy=k8s.io/kubernetes/cmd/kube-proxy
    local cni_dir="$HACK_DIR/cni" cni=github.com/containernetworking/plugins
    expect_pinned "$cni_dir" "$cni" "v$CNI_PLUGINS_VERSION"
    build cni "$cni_dir" "-s -w -X $cni/pkg/utils/buildversion.BuildVersion=v$CNI_PLUGINS_VERSION" \
      cni/bridge="$cni/plugins/main/bridge" cni/host-local="$cni/plugins/ipam/host-local" \
      cni/loopback="$cni/plugins/main/loopback" cni/portmap="$cni/plugins/meta/portmap"
  fi

  # etcd's own main package is the module root (server/main.go calls etcdmain.Main).
  build etcd "$etcd_dir" "-s -w" etcd=go.etcd.io/etcd/server/v3

  # As helm's Makefile stamps it: its version, and the Kubernetes version it assumes
  # (chart lint, .Capabilities in `helm template`) from the client-go it is built with.
  local client_go helm_ld="-s -w"
  client_go=$(module_version "$helm_dir" k8s.io/client-go)
  IFS=. read -r major minor _ <<<"${client_go#v}"
  helm_ld+=" -X $helm_module/internal/version.version=v$HELM_VERSION"
  helm_ld+=" -X $helm_module/internal/version.gitTreeState=clean"
  for pkg in pkg/lint/rules pkg/chartutil; do
    helm_ld+=" -X $helm_module/$pkg.k8sVersionMajor=$((major + 1)) -X $helm_module/$pkg.k8sVersionMinor=$minor"
  done
  build helm "$helm_dir" "$helm_ld" helm="$helm_module/cmd/helm"

  echo "$KUBE_BIN_DIR"
}

main "$@"; exit # one line: bash has read it all before it runs (safe to edit meanwhile)
