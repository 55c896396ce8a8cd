// Package config tests what an operator configures and reads on a Galera
// cluster under `galera-sentinel run`: the accounts and initdb scripts (as
// mysql and as root), the classic my.cnf layout as root (and a full crash
// with no cluster address in it), the JSON log, peer tokens and their
// rotation, the peer TLS server name, the event journal (`galera-sentinel
// events`) and the cluster page in Chromium. It holds tests only; go test
// runs it side by side with the other e2e packages.
package config
