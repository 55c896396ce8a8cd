#!/usr/bin/env bash
# Installs, with apt-get, what the e2e-k8s suite needs besides what it
# builds from source (scripts/kube-binaries.sh): the container runtime and
# CNI plugins of the node, buildah and debootstrap for the image, conntrack
# for kube-proxy. Idempotent: does nothing when everything is there. It
# starts no daemon (internal/testkube runs its own containerd).
set -euo pipefail

packages=(containerd runc containernetworking-plugins buildah debootstrap conntrack iptables iproute2)
probes=(/usr/bin/containerd /usr/sbin/runc /usr/lib/cni/bridge /usr/bin/buildah /usr/sbin/debootstrap
	/usr/sbin/conntrack /usr/sbin/iptables /usr/sbin/ip)

missing=0
for p in "${probes[@]}"; do
	[ -e "$p" ] || { echo "kube-deps: $p is missing"; missing=1; }
done
if [ "$missing" = 0 ]; then
	echo "kube-deps: everything is installed"
	exit 0
fi
[ "$(id -u)" = 0 ] || { echo "kube-deps: run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
# containerd's package would start it where an init system runs: not ours.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi
apt-get update -q
apt-get install -y -q --no-install-recommends "${packages[@]}"
for p in "${probes[@]}"; do
	[ -e "$p" ] || { echo "kube-deps: $p still missing after apt-get install" >&2; exit 1; }
done
echo "kube-deps: done"
