#!/usr/bin/env bash
# Rewrites hack/kube/go.mod, hack/etcd/go.mod, hack/helm/go.mod and hack/cni/go.mod (and
# their go.sum) for the KUBE_VERSION, ETCD_VERSION, HELM_VERSION and CNI_PLUGINS_VERSION in
# hack/versions.env. Run it after a bump there, then hack/kube/build.sh; commit the go.mod/go.sum pairs.
#   hack/kube/pin.sh
# k8s.io/kubernetes is not meant to be a dependency: its go.mod requires each of its
# staging modules (k8s.io/api, k8s.io/client-go, ...) at v0.0.0 and replaces them with
# directories of its own repository. Here every such requirement is replaced by the
# published v0.<minor>.<patch> of the same release instead.
# shellcheck disable=SC2034 # read by log() in lib.sh
SERVER_NAME=kube-pin
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$(cd "$(dirname "$0")" && pwd)/../lib.sh"

export GOMODCACHE="${PARLEY_GOMODCACHE:-$PARLEY_CACHE/go/mod}"
export GOCACHE="${PARLEY_GOCACHE:-$PARLEY_CACHE/go/build}"
export GOFLAGS="-modcacherw" GOWORK=off
GO_VERSION=1.26.0 # the `go` line of the three modules: what k8s.io/kubernetes needs

# new_module DIR NAME: an empty go.mod (and no go.sum) for module NAME in DIR.
new_module() {
  mkdir -p "$1"
  {
    printf '// Written by hack/kube/pin.sh from hack/versions.env; do not edit. It only builds\n'
    printf '// binaries for hack/servers/kube.sh (hack/kube/build.sh); see hack/README.md.\n'
    printf 'module %s\n\ngo %s\n' "$2" "$GO_VERSION"
  } >"$1/go.mod"
  rm -f "$1/go.sum"
}

pin_kube() {
  local dir="$HACK_DIR/kube" gomod staging
  gomod=$(go mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
  [[ -f "$gomod" ]] || die "cannot download k8s.io/kubernetes@v$KUBE_VERSION's go.mod"
  staging=$(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" { print $1 }' "$gomod")
  new_module "$dir" parley/hack/kube
  {
    printf '\n// Each k8s.io/kubernetes staging module, at its published version of the same release.\nreplace (\n'
    for module in $staging; do printf '\t%s => %s v0.%s\n' "$module" "$module" "${KUBE_VERSION#*.}"; done
    printf ')\n'
  } >>"$dir/go.mod"
  go -C "$dir" get -tool "k8s.io/kubernetes/cmd/kube-apiserver@v$KUBE_VERSION" \
    "k8s.io/kubernetes/cmd/kube-controller-manager@v$KUBE_VERSION" "k8s.io/kubernetes/cmd/kubectl@v$KUBE_VERSION" \
    "k8s.io/kubernetes/cmd/kubelet@v$KUBE_VERSION" "k8s.io/kubernetes/cmd/kube-scheduler@v$KUBE_VERSION" \
    "k8s.io/kubernetes/cmd/kube-proxy@v$KUBE_VERSION"
  go -C "$dir" mod tidy
}

pin_etcd() {
  local dir="$HACK_DIR/etcd"
  new_module "$dir" parley/hack/etcd
  go -C "$dir" get -tool "go.etcd.io/etcd/server/v3@v$ETCD_VERSION"
  go -C "$dir" mod tidy
}

# The CNI plugins hack/cluster runs pods with (bridge, host-local, loopback, portmap).
pin_cni() {
  local dir="$HACK_DIR/cni" module=github.com/containernetworking/plugins
  new_module "$dir" parley/hack/cni
  go -C "$dir" get -tool "$module/plugins/main/bridge@v$CNI_PLUGINS_VERSION" \
    "$module/plugins/ipam/host-local@v$CNI_PLUGINS_VERSION" "$module/plugins/main/loopback@v$CNI_PLUGINS_VERSION" \
    "$module/plugins/meta/portmap@v$CNI_PLUGINS_VERSION"
  go -C "$dir" mod tidy
}

pin_helm() {
  local dir="$HACK_DIR/helm" module="helm.sh/helm/v${HELM_VERSION%%.*}"
  new_module "$dir" parley/hack/helm
  go -C "$dir" get -tool "$module/cmd/helm@v$HELM_VERSION"
  go -C "$dir" mod tidy
}

pin_kube
pin_etcd
pin_helm
pin_cni
log "pinned k8s.io/kubernetes v$KUBE_VERSION, etcd v$ETCD_VERSION, helm v$HELM_VERSION, CNI plugins v$CNI_PLUGINS_VERSION; now run hack/kube/build.sh"
