#!/usr/bin/env bash
# kube-binaries.sh builds the single-node Kubernetes the e2e-k8s suite runs
# on, from the Go module proxy, and caches the binaries by version:
#
#   $KUBE_CACHE/v$KUBE_VERSION/bin/{kube-apiserver,kube-controller-manager,
#       kube-scheduler,kubelet,kube-proxy,kubectl,etcd,coredns}
#
# A second run finds the stamp file and builds nothing. Prints the bin
# directory on stdout (everything else goes to stderr).
#
# k8s.io/kubernetes cannot be `go install`ed (its go.mod replaces the
# staging modules with ./staging/...), so each tool is built from a small
# wrapper module that requires it and replaces every staging module with its
# published v0.x version. Same for etcd and CoreDNS, each in its own module
# so their dependency versions do not mix.
#
# This script only builds; it starts nothing and touches no network
# interface. It needs only Go and the module proxy.
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-1.31.4}
STAGING_VERSION=${STAGING_VERSION:-0.${KUBE_VERSION#1.}}
ETCD_VERSION=${ETCD_VERSION:-3.5.17}
COREDNS_VERSION=${COREDNS_VERSION:-1.11.3}
KUBE_CACHE=${KUBE_CACHE:-/var/cache/galera-sentinel-kube}
GO=${GO:-go}
NICE=${NICE:-nice -n 10}

dir=$KUBE_CACHE/v$KUBE_VERSION
bin=$dir/bin
stamp=$bin/.complete-etcd$ETCD_VERSION-coredns$COREDNS_VERSION
log() { echo "kube-binaries: $*" >&2; }

if [[ -f $stamp ]]; then
	echo "$bin"
	exit 0
fi
mkdir -p "$bin" "$dir/src"
# One build at a time per cache directory.
exec 9>"$dir/.lock"
flock 9
if [[ -f $stamp ]]; then
	echo "$bin"
	exit 0
fi

export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local

# wrapper DIR MODULE-LINES...: a module in DIR that requires the given
# modules; the tools it builds are named in tools.go.
wrapper() {
	local d=$1; shift
	mkdir -p "$d"
	printf 'module galera-sentinel.local/kubebuild\n\ngo 1.22\n\n%s\n' "$*" >"$d/go.mod"
}

tools() {
	local d=$1; shift
	{
		echo '//go:build tools'
		echo
		echo '// Package tools names the programs this wrapper module builds.'
		echo 'package tools'
		echo
		echo 'import ('
		for p in "$@"; do echo "	_ \"$p\""; done
		echo ')'
	} >"$d/tools.go"
}

build() { # DIR LDFLAGS PKG...
	local d=$1 ldflags=$2; shift 2
	local need=()
	for p in "$@"; do
		[[ -x $bin/$(basename "$p") ]] || need+=("$p")
	done
	((${#need[@]})) || return 0
	log "building ${need[*]} in $d"
	local t0=$SECONDS
	(cd "$d" && $NICE "$GO" build -trimpath -ldflags "$ldflags" -o "$bin/" "${need[@]}")
	log "built in $((SECONDS - t0))s"
}

# --- Kubernetes -----------------------------------------------------------
k=$dir/src/kubernetes
staging=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go
	cloud-provider cluster-bootstrap code-generator component-base component-helpers
	controller-manager cri-api cri-client csi-translation-lib dynamic-resource-allocation
	endpointslice kms kube-aggregator kube-controller-manager kube-proxy kube-scheduler
	kubectl kubelet metrics mount-utils pod-security-admission sample-apiserver
	sample-cli-plugin sample-controller)
reqs="require k8s.io/kubernetes v$KUBE_VERSION
"
for s in "${staging[@]}"; do
	reqs+="replace k8s.io/$s => k8s.io/$s v$STAGING_VERSION
"
done
wrapper "$k" "$reqs"
kcmds=(k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
	k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet
	k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl)
tools "$k" "${kcmds[@]}"
minor=${KUBE_VERSION#1.}; minor=${minor%%.*}
v=k8s.io/component-base/version
cv=k8s.io/client-go/pkg/version
kld="-s -w"
for pkg in $v $cv; do
	kld+=" -X $pkg.gitVersion=v$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
build "$k" "$kld" "${kcmds[0]}"
build "$k" "$kld" "${kcmds[@]:1}"

# --- etcd -----------------------------------------------------------------
e=$dir/src/etcd
wrapper "$e" "require go.etcd.io/etcd/server/v3 v$ETCD_VERSION"
tools "$e" go.etcd.io/etcd/server/v3
if [[ ! -x $bin/etcd ]]; then
	build "$e" "-s -w" go.etcd.io/etcd/server/v3
	mv "$bin/v3" "$bin/etcd" 2>/dev/null || mv "$bin/server" "$bin/etcd"
fi

# --- CoreDNS --------------------------------------------------------------
c=$dir/src/coredns
wrapper "$c" "require github.com/coredns/coredns v$COREDNS_VERSION"
tools "$c" github.com/coredns/coredns
build "$c" "-s -w" github.com/coredns/coredns

touch "$stamp"
log "all binaries in $bin"
echo "$bin"
