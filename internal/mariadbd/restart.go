package mariadbd

import "strings"

// restartPhrases are Galera's own words, in lines it logs through
// mariadbd ("WSREP: ..."), for "this node must be restarted": each is
// logged by the joiner (or the node whose backend failed) about itself,
// read from libgalera_smm.so (Galera 4).
//
//   - "restart required": "Receiving IST failed, node restart required"
//     (the node then sits Initialized, or frozen at a view it left, for
//     good), and the unrecoverable callback failures ("View callback
//     failed. This is unrecoverable, restart required.", "... SST request
//     is null: restart required.", "Application state is corrupt and
//     cannot be recovered. Restart required.").
//   - "must be restarted", "restart is required": the gcomm thread died,
//     e.g. on a node evicted by a peer (evs.evict), which then stays up,
//     disconnected and Initialized ("exception from gcomm, backend must
//     be restarted: this node has been evicted out of the cluster, gcomm
//     backend restart is required (FATAL)"); "Application must be
//     restarted" after state transfer requests that cannot be served.
//   - "need to restart": an internal state Galera cannot handle.
//
// "Failed to JOIN the cluster after SST" is deliberately absent: Galera
// logs it as a warning and may still join (a whole suite run saw a joiner
// logging it while its state transfer went on; stopping it there killed
// mariadbd after the shutdown timeout). In the field it follows "Receiving
// IST failed, node restart required", which is matched.
//
// Some of these Galera follows with an abort; matching them too is
// harmless (the process ends first). "Joiner should be restarted" is
// deliberately absent: a donor logs it about another node.
var restartPhrases = []string{
	"restart required",
	"restart is required",
	"must be restarted",
	"need to restart",
}

// RestartRequired reports whether line, one line mariadbd printed, is
// Galera saying that this node must be restarted: mariadbd stays up but
// will not rejoin its cluster on its own. Only Galera's lines ("WSREP:")
// count; an SST script's ("WSREP_SST:") or the server's own never do.
func RestartRequired(line string) bool {
	i := strings.Index(line, "WSREP:")
	if i < 0 {
		return false
	}
	msg := strings.ToLower(line[i:])
	for _, p := range restartPhrases {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// ProviderClosed reports whether line is Galera saying, in a shutdown,
// that its provider is closed ("WSREP: dtor state: CLOSED"): it has left
// the cluster and saved its state; the provider's destructor and the
// storage engines' shutdown follow.
func ProviderClosed(line string) bool {
	i := strings.Index(line, "WSREP:")
	return i >= 0 && strings.Contains(line[i:], "dtor state: CLOSED")
}
