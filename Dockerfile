# MariaDB with Galera 4 from Debian, galera-sentinel as the entrypoint:
# bookworm (MariaDB 10.11) by default, trixie (MariaDB 11.8) with
# --build-arg BASE=debian:trixie-slim and MARIADB_VERSION, GALERA_VERSION
# set to trixie's versions or empty (the suite's current ones, unpinned). The sentinel is also the only client the image needs (no curl):
# it serves the probes and talks to its peers itself.
#
#   make image                     # what the e2e-k8s suite builds and runs:
#                                  # BASE is a bookworm rootfs made here with
#                                  # debootstrap (no registry needed)
#   make image-trixie              # the same on trixie (MariaDB 11.8)
#   make dist && docker buildx build --platform linux/amd64,linux/arm64 \
#       -t galera-sentinel-mariadb:10.11 .    # elsewhere, from Docker Hub
#
# The sentinel initialises an empty data directory itself (mariadb-install-db)
# when it bootstraps a new cluster. See deploy/kubernetes/.
ARG BASE=docker.io/library/debian:bookworm-slim
FROM ${BASE}
ARG TARGETARCH=amd64
# Pinned: Debian bookworm's versions at the time of writing. A point release
# removes old versions from the mirror; bump these (apt-cache policy
# mariadb-server galera-4) when the build says a version is not found.
ARG MARIADB_VERSION=1:10.11.19-0+deb12u1
ARG GALERA_VERSION=26.4.23-0+deb12u1

# uid/gid 999, created before the package does, so that runAsUser: 999 and
# fsGroup: 999 in deploy/kubernetes match the owner of the files.
# policy-rc.d: the package must not start a server during the build.
# mariadb-backup: the clone of a new replica (deploy/kubernetes/replication)
# and mariabackup state transfers; socat: wsrep_sst_mariabackup's default
# streamer (transferfmt=socat). xz-utils, zstd: *.sql.xz and *.sql.zst of
# /docker-entrypoint-initdb.d (gzip is essential).
# rsync and lsof: rsync state transfers (the default in deploy/kubernetes);
# iproute2 and procps: wsrep_sst_rsync looks up addresses and processes.
# Debian's 50-server.cnf sets bind-address=127.0.0.1 and is read after
# /etc/mysql/conf.d/ (where deploy/kubernetes mounts galera.cnf), so it
# would win: the node would listen on loopback only and a joiner would
# advertise 127.0.0.1 for its state transfer, which then never arrives.
# Remove the line; the address comes from galera.cnf (0.0.0.0).
RUN groupadd --system --gid 999 mysql \
 && useradd --system --uid 999 --gid 999 --home-dir /var/lib/mysql --no-create-home --shell /usr/sbin/nologin mysql \
 && printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      mariadb-server${MARIADB_VERSION:+=$MARIADB_VERSION} mariadb-server-core${MARIADB_VERSION:+=$MARIADB_VERSION} \
      mariadb-client${MARIADB_VERSION:+=$MARIADB_VERSION} mariadb-client-core${MARIADB_VERSION:+=$MARIADB_VERSION} \
      mariadb-common${MARIADB_VERSION:+=$MARIADB_VERSION} galera-4${GALERA_VERSION:+=$GALERA_VERSION} \
      mariadb-backup${MARIADB_VERSION:+=$MARIADB_VERSION} \
      rsync lsof iproute2 procps socat xz-utils zstd \
 && rm -f /usr/sbin/policy-rc.d \
 && rm -rf /var/lib/apt/lists/* /var/lib/mysql/* \
 && sed -i '/^[[:space:]]*bind-address[[:space:]]*=/d' /etc/mysql/mariadb.conf.d/50-server.cnf \
 && ! grep -rq '^[[:space:]]*bind-address' /etc/mysql/mariadb.conf.d/ \
 && install -d -o mysql -g mysql -m 0750 /var/lib/mysql /run/mysqld

COPY dist/galera-sentinel-linux-${TARGETARCH} /usr/local/bin/galera-sentinel
USER mysql
EXPOSE 3306 4444 4567 4568 9200 9201
ENTRYPOINT ["/usr/local/bin/galera-sentinel", "run"]
