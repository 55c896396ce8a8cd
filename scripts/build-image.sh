#!/usr/bin/env bash
# build-image.sh builds the Dockerfile at the repository root with buildah,
# on a Debian bookworm base made here (no container registry is reachable on
# the machines that run the suite), and writes it as an OCI archive:
#
#   scripts/build-image.sh OUT.tar [TAG]
#   scripts/build-image.sh --haproxy OUT.tar [TAG]
#   scripts/build-image.sh --previous OUT.tar [TAG]
#
# With --haproxy it builds scripts/haproxy.Dockerfile instead (HAProxy laid
# out as the official image, for the in-cluster HAProxy of the e2e suite),
# on the same base.
#
# The base is a debootstrap rootfs of SUITE (default bookworm: MariaDB 10.11;
# trixie: MariaDB 11.8) from the Debian mirror apt uses, with its -updates
# and -security suites, imported as localhost/galera-sentinel-base:SUITE and
# cached in buildah's storage and as a tarball under $KUBE_CACHE/base. The
# Dockerfile is built unchanged but for its build arguments: BASE, and for
# a suite other than bookworm MARIADB_VERSION and GALERA_VERSION (from the
# environment; empty: the suite's current versions, unpinned). With
# --previous, MariaDB is pinned to the release before the Dockerfile's
# (PREVIOUS_MARIADB_VERSION), for the minor upgrade of the e2e suite. buildah
# --layers caches the apt-get step, so a second run only copies the new
# binary.
#
# It needs root, debootstrap and buildah (scripts/kube-deps.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

kind=mariadb
case ${1:-} in
--haproxy)
	kind=haproxy
	shift
	;;
--previous)
	# The MariaDB release before the Dockerfile's pin that the mirror
	# still serves (bookworm's main suite, the pin being from
	# bookworm-security): the e2e cluster starts on it, and its rolling
	# update to the current image is a minor upgrade (S7).
	MARIADB_VERSION=${PREVIOUS_MARIADB_VERSION:-1:10.11.18-0+deb12u1}
	shift
	;;
esac
out=${1:?usage: build-image.sh [--haproxy|--previous] OUT.tar [TAG]}
tag=${2:-test}
KUBE_CACHE=${KUBE_CACHE:-/var/cache/galera-sentinel-kube}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
SUITE=${SUITE:-bookworm}
base=localhost/galera-sentinel-base:$SUITE
pins=()
if [[ $SUITE != bookworm ]]; then
	pins=(--build-arg "MARIADB_VERSION=${MARIADB_VERSION:-}" --build-arg "GALERA_VERSION=${GALERA_VERSION:-}")
elif [[ -n ${MARIADB_VERSION:-} ]]; then
	# An older release of the suite (make image-previous): the Dockerfile's
	# other pins stand.
	pins=(--build-arg "MARIADB_VERSION=$MARIADB_VERSION")
fi
image=localhost/galera-sentinel-$kind:$tag
log() { echo "build-image: $*" >&2; }
export BUILDAH_ISOLATION=chroot
# vfs: works on every filesystem and in every container; overlay does not.
export STORAGE_DRIVER=${STORAGE_DRIVER:-vfs}

mkdir -p "$KUBE_CACHE/base"
exec 9>"$KUBE_CACHE/base/.lock"
flock 9

if ! buildah inspect --type image "$base" >/dev/null 2>&1; then
	tarball=$KUBE_CACHE/base/$SUITE-rootfs.tar
	if [[ ! -s $tarball ]]; then
		t0=$SECONDS
		root=$(mktemp -d "$KUBE_CACHE/base/rootfs.XXXXXX")
		trap 'rm -rf "$root"' EXIT
		log "debootstrap $SUITE from $MIRROR"
		debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >&2
		cat >"$root/etc/apt/sources.list" <<-SRC
		deb $MIRROR $SUITE main
		deb $MIRROR $SUITE-updates main
		deb $SECURITY_MIRROR $SUITE-security main
		SRC
		chroot "$root" apt-get clean
		rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/tmp/* "$root"/var/log/*.log
		tar -C "$root" --numeric-owner -cf "$tarball.tmp" .
		mv "$tarball.tmp" "$tarball"
		rm -rf "$root"
		trap - EXIT
		log "rootfs in $((SECONDS - t0))s"
	fi
	c=$(buildah from scratch)
	buildah add "$c" "$tarball" / >/dev/null
	buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd /bin/bash "$c"
	buildah commit --rm "$c" "$base" >&2
fi

if [[ $kind == haproxy ]]; then
	t0=$SECONDS
	buildah bud --layers --network host --build-arg BASE="$base" -t "$image" -f scripts/haproxy.Dockerfile scripts >&2
	log "bud in $((SECONDS - t0))s"
	mkdir -p "$(dirname "$out")"
	rm -f "$out"
	buildah push "$image" "oci-archive:$out:$image" >&2
	log "wrote $out ($image)"
	exit 0
fi

arch=$(go env GOARCH)
mkdir -p dist
log "galera-sentinel for linux/$arch"
CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath \
	-ldflags "-s -w -X main.version=$(git describe --tags --always --dirty 2>/dev/null || echo devel) -X main.commit=$(git rev-parse --verify -q HEAD || echo unknown)" \
	-o "dist/galera-sentinel-linux-$arch" ./cmd/galera-sentinel

t0=$SECONDS
buildah bud --layers --network host --build-arg BASE="$base" --build-arg TARGETARCH="$arch" "${pins[@]}" -t "$image" -f Dockerfile . >&2
log "bud in $((SECONDS - t0))s"
mkdir -p "$(dirname "$out")"
rm -f "$out"
buildah push "$image" "oci-archive:$out:$image" >&2
log "wrote $out ($image)"
