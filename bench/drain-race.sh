#!/usr/bin/env bash
# The check-then-close race of a drain that closes pooled sessions from
# outside the data path (issue 22): starts a throwaway one-member Galera
# node on 127.66.0.1, then bench/drainrace, which runs a Go database/sql
# pool in a BEGIN; INSERT; COMMIT loop under several closing strategies
# and prints sessions closed, transactions failed, and failed per close.
# Needs root and the packages of scripts/install-deps.sh.
#
#   bench/drain-race.sh              # 10 s per strategy
#   FOR=30s bench/drain-race.sh
#   FOR=90s ONLY=pausing bench/drain-race.sh   # the strategies named so
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >/dev/null
dir=$(mktemp -d /tmp/drain-race.XXXXXX)
pid=
cleanup() {
	if [[ -n $pid ]]; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
addr=127.66.0.1
ip addr show lo | grep -q "$addr" || true # 127.0.0.0/8 is local on lo already
cat >"$dir/my.cnf" <<CNF
[mysqld]
datadir=$dir/data
socket=$dir/mysqld.sock
pid-file=$dir/mysqld.pid
log-error=$dir/error.log
bind-address=$addr
port=13306
user=mysql
skip-name-resolve
innodb_buffer_pool_size=32M
innodb_flush_log_at_trx_commit=2
binlog_format=ROW
innodb_autoinc_lock_mode=2
wsrep_on=ON
wsrep_provider=/usr/lib/galera/libgalera_smm.so
wsrep_cluster_address=gcomm://
wsrep_node_address=$addr
wsrep_provider_options="gmcast.listen_addr=tcp://$addr:14567"
CNF
mkdir -p "$dir/data"
chown -R mysql:mysql "$dir"
mariadb-install-db --defaults-file="$dir/my.cnf" --auth-root-authentication-method=socket >"$dir/install.log" 2>&1
mariadbd --defaults-file="$dir/my.cnf" --wsrep-new-cluster &
pid=$!
for _ in $(seq 300); do
	mariadb -S "$dir/mysqld.sock" -e "SELECT 1" >/dev/null 2>&1 && break
	kill -0 "$pid" || { tail -n 30 "$dir/error.log"; exit 1; }
	sleep 0.1
done
mariadb -S "$dir/mysqld.sock" <<SQL
CREATE DATABASE drainrace;
CREATE USER race@'127.%';
GRANT ALL ON drainrace.* TO race@'127.%';
SQL
echo "mariadbd $(mariadbd --version | awk '{print $3}'), one Galera member on $addr; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
go run ./bench/drainrace -app "race@tcp($addr:13306)/drainrace" -admin "root@unix($dir/mysqld.sock)/" -for "${FOR:-10s}" ${ONLY:+-only "$ONLY"}
