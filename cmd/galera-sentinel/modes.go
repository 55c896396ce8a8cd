package main

import (
	"fmt"
)

// The modes of serve and run: which domain's policy judges the node, and
// in run mode which member runs it.
const (
	modeGalera      = "galera"
	modeReplication = "replication"
)

// modes is the set of modes a flag applies in.
type modes uint8

const (
	forGalera modes = 1 << iota
	forReplication
	forBoth = forGalera | forReplication
)

func (m modes) has(mode string) bool {
	switch mode {
	case modeGalera:
		return m&forGalera != 0
	case modeReplication:
		return m&forReplication != 0
	}
	return false
}

func (m modes) String() string {
	switch m {
	case forGalera:
		return modeGalera
	case forReplication:
		return modeReplication
	}
	return modeGalera + " and " + modeReplication
}

// flagScope is where a flag of serve or run applies.
type flagScope struct {
	runOnly bool // a flag of run alone: serve does not define it
	modes   modes
}

const (
	serveAndRun = false
	runOnly     = true
)

// flagScopes is the one table of where each flag of serve and run
// applies. A flag set on the command line or by its environment variable
// under a mode it is not for is refused (Validate): it would do nothing.
// Its default is not a setting, so it never is. A flag of run alone is
// refused by serve's command line as unknown; serve ignores it in the
// environment, which one systemd environment file shares between serve and
// run. TestFlagScopes checks this table against the flags serve and run
// define.
var flagScopes = map[string]flagScope{
	// The node and its probes.
	"mysql-addr":          {serveAndRun, forBoth},
	"mysql-user":          {serveAndRun, forBoth},
	"mysql-password-file": {serveAndRun, forBoth},
	"listen":              {serveAndRun, forBoth},
	"poll-interval":       {serveAndRun, forBoth},
	"timeout":             {serveAndRun, forBoth},
	"connect-limit":       {serveAndRun, forBoth},
	"max-staleness":       {serveAndRun, forBoth},
	"liveness-grace":      {serveAndRun, forBoth},
	"maintenance-file":    {serveAndRun, forBoth},
	"token-file":          {serveAndRun, forBoth},
	"agent-check-listen":  {serveAndRun, forBoth},
	"events-file":         {serveAndRun, forBoth},
	"log-format":          {serveAndRun, forBoth},
	"log-level":           {serveAndRun, forBoth},
	"mode":                {serveAndRun, forBoth},
	// Galera's states and its wsrep_notify_cmd.
	"available-when-donor":    {serveAndRun, forGalera},
	"available-when-readonly": {serveAndRun, forGalera},
	"notify-socket":           {serveAndRun, forGalera},
	// Asynchronous replication.
	"max-replica-lag":           {serveAndRun, forReplication},
	"replica-connect-grace":     {serveAndRun, forReplication},
	"replication-user":          {serveAndRun, forReplication},
	"replication-password-file": {serveAndRun, forReplication},
	"heartbeat-table":           {serveAndRun, forReplication},
	"primary":                   {serveAndRun, forReplication},

	// Run mode: the member, its peers, mariadbd.
	"node-name":                {runOnly, forBoth},
	"datadir":                  {runOnly, forBoth},
	"peers":                    {runOnly, forBoth},
	"peers-dns":                {runOnly, forBoth},
	"peer-port":                {runOnly, forBoth},
	"dns-server":               {runOnly, forBoth},
	"tls-cert-file":            {runOnly, forBoth},
	"tls-key-file":             {runOnly, forBoth},
	"tls-ca-file":              {runOnly, forBoth},
	"tls-server-name":          {runOnly, forBoth},
	"decide-interval":          {runOnly, forBoth},
	"peer-timeout":             {runOnly, forBoth},
	"shutdown-timeout":         {runOnly, forBoth},
	"drain-delay":              {runOnly, forBoth},
	"drain-timeout":            {runOnly, forBoth},
	"drain-close-idle":         {runOnly, forBoth},
	"kube-writer-label":        {runOnly, forBoth},
	"kube-pod-name":            {runOnly, forBoth},
	"kube-service-account-dir": {runOnly, forBoth},
	"init-command":             {runOnly, forBoth},
	"initdb-dir":               {runOnly, forBoth},
	// Galera's recovery and its writer.
	"expected-size":   {runOnly, forGalera},
	"gcomm-port":      {runOnly, forGalera},
	"force-bootstrap": {runOnly, forGalera},
	"writer-handover": {runOnly, forGalera},
	"stall-timeout":   {runOnly, forGalera},
}

// misusedFlags are the problems of the flags in explicit (see
// explicitFlags) that do not apply under mode, in the order of their names.
func misusedFlags(mode string, explicit map[string]string) []error {
	var errs []error
	for _, name := range sortedKeys(explicit) {
		s, ok := flagScopes[name]
		if !ok || s.modes.has(mode) {
			continue
		}
		errs = append(errs, fmt.Errorf("%s is for --mode=%s: under --mode=%s it would do nothing; remove it", spelled(name, explicit[name]), s.modes, mode))
	}
	return errs
}
