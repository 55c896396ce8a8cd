#!/usr/bin/env bash
# Installs, with apt-get, the system packages that the tests and the demo
# need. Idempotent: when everything is there it does nothing. It downloads
# nothing from outside Debian's package archive, and it never starts (or
# stops) a system MariaDB: the tests run their own mariadbd processes.
set -euo pipefail

packages=(
  mariadb-server mariadb-client galera-4   # the real database and Galera 4 provider
  mariadb-backup                           # mariabackup state transfers
  rsync lsof socat                         # rsync SST and the tools wsrep_sst_rsync looks for
  haproxy                                  # the load balancer in front of the demo and e2e tests
  dnsmasq-base                             # real DNS for peer discovery tests
  iproute2 iptables                        # network namespaces, partitions, blackholes, tc (throttled links)
  zstd xz-utils                            # compressed initdb.d scripts (.sql.zst, .sql.xz)
  wrk                                      # HTTP load for bench/
  prometheus                               # promtool: the shipped alert rules and their tests
  chromium fonts-dejavu-core               # the cluster page, rendered in a real browser, with a font
  python3-sqlalchemy python3-pymysql       # pooled Python clients in the rolling-restart tests
  procps make ca-certificates git
)
# A command or file per package that tells us it is installed.
probes=(
  /usr/sbin/mariadbd /usr/bin/mariadb /usr/lib/galera/libgalera_smm.so
  /usr/bin/mariabackup
  /usr/bin/rsync /usr/bin/lsof /usr/bin/socat
  /usr/sbin/haproxy
  /usr/sbin/dnsmasq
  /usr/sbin/ip /usr/sbin/iptables /usr/sbin/tc
  /usr/bin/zstd /usr/bin/xz
  /usr/bin/wrk
  /usr/bin/promtool
  /usr/bin/chromium /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
  /usr/lib/python3/dist-packages/sqlalchemy/__init__.py /usr/lib/python3/dist-packages/pymysql/__init__.py
  /usr/bin/pgrep /usr/bin/make /etc/ssl/certs /usr/bin/git
)

missing=0
for p in "${probes[@]}"; do
  [ -e "$p" ] || { echo "install-deps: $p is missing"; missing=1; }
done
if [ "$missing" = 0 ]; then
  echo "install-deps: everything is installed"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  sudo=sudo
  command -v sudo >/dev/null || { echo "install-deps: run as root (or install sudo)" >&2; exit 1; }
else
  sudo=
fi

# Keep the package's maintainer scripts from starting a system mariadbd
# (exit 101 = action forbidden), unless the machine already has a policy.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
  trap '$sudo rm -f "$policy"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${packages[@]}"

for p in "${probes[@]}"; do
  [ -e "$p" ] || { echo "install-deps: $p still missing after apt-get install" >&2; exit 1; }
done
echo "install-deps: done"
