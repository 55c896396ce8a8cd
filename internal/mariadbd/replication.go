package mariadbd

import (
	"fmt"

	"github.com/galera-sentinel/galera-sentinel/internal/supervisor"
)

// ReplicationServeArgs is the argv of the server of an asynchronous
// replication member. It adds no wsrep option, and always:
//   - --read-only: the server comes up refusing writes whatever its
//     option files say; the member turns read_only off (SET GLOBAL) only
//     once it has made sure that no other writable primary is reachable.
//     A command-line option overrides every option file, and SET GLOBAL
//     overrides it in turn, so this is the one safe default.
//   - --skip-slave-start: a replica configuration left in the data
//     directory is not resumed before the member has checked that the
//     server's history descends from its primary's.
func (c Config) ReplicationServeArgs() []string {
	return append(c.base(), "--read-only", "--skip-slave-start")
}

// ServeReplication starts the server of an asynchronous replication
// member (ReplicationServeArgs).
func (r *Runner) ServeReplication() (*supervisor.Process, error) {
	if err := r.prepareDataDir(); err != nil {
		return nil, err
	}
	cmd := r.command(r.cfg.ReplicationServeArgs(), nil)
	r.log.Info("starting mariadbd (replication, read-only until decided)", "args", cmd.Args)
	p, err := r.start("mariadbd", cmd)
	if err != nil {
		return nil, fmt.Errorf("start mariadbd: %w", err)
	}
	return p, nil
}
