package galera

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Protocols are the versions of Galera's three protocols a Primary
// component speaks: group communication (gcs), replication (repl) and
// application (appl). A component speaks, for each, the highest version
// every member's library supports, and goes up when the last member with
// an older library has left. A library older than the one the component
// was raised by cannot join it: Galera aborts the joiner ("Group requested
// gcs_proto_ver: 5, max supported by this node: 4"). That happens when an
// image or package brings an older Galera library than the other members
// run (Galera 26.4.21 raised gcs to 5; a 26.4.20 cannot join them). The
// zero Protocols is unknown.
type Protocols struct {
	GCS, Repl, Appl int
}

// IsZero reports whether p is unknown.
func (p Protocols) IsZero() bool { return p == Protocols{} }

// String is "5/11/4", as mariadbd's log and the peer state say it.
func (p Protocols) String() string { return fmt.Sprintf("%d/%d/%d", p.GCS, p.Repl, p.Appl) }

// ParseProtocols reads "5/11/4" (gcs/repl/appl).
func ParseProtocols(s string) (Protocols, error) {
	f := strings.Split(strings.TrimSpace(s), "/")
	if len(f) != 3 {
		return Protocols{}, fmt.Errorf("galera protocols %q: want gcs/repl/appl", clipText(s))
	}
	var n [3]int
	for i, x := range f {
		v, err := strconv.Atoi(x)
		if err != nil || v < 0 || v > 255 {
			return Protocols{}, fmt.Errorf("galera protocols %q: %q is not a protocol version", clipText(s), clipText(x))
		}
		n[i] = v
	}
	return Protocols{n[0], n[1], n[2]}, nil
}

// Level is the version of the protocol Galera names by level
// (gcs_proto_ver, repl_proto_ver, appl_proto_ver); -1 for another name.
func (p Protocols) Level(level string) int {
	switch level {
	case "gcs_proto_ver":
		return p.GCS
	case "repl_proto_ver":
		return p.Repl
	case "appl_proto_ver":
		return p.Appl
	}
	return -1
}

// viewProtocols is the line of a new view in mariadbd's log:
// "	protocols  = 5/11/4 (gcs/repl/appl),".
var viewProtocols = regexp.MustCompile(`protocols\s*=\s*(\d+/\d+/\d+)\s*\(gcs/repl/appl\)`)

// ProtocolsInLog reads the protocols of a new view from a line of
// mariadbd's log.
func ProtocolsInLog(line string) (Protocols, bool) {
	m := viewProtocols.FindStringSubmatch(line)
	if m == nil {
		return Protocols{}, false
	}
	p, err := ParseProtocols(m[1])
	return p, err == nil
}

// ProtocolRefusal is Galera refusing this node a Primary component whose
// protocol at Level is Requested while its library speaks up to Max. The
// zero ProtocolRefusal is none.
type ProtocolRefusal struct {
	Level          string
	Requested, Max int
}

// IsZero reports whether r is none.
func (r ProtocolRefusal) IsZero() bool { return r == ProtocolRefusal{} }

func (r ProtocolRefusal) String() string {
	return fmt.Sprintf("the component requested %s %d, this node's Galera library supports up to %d", r.Level, r.Requested, r.Max)
}

// refusedLine is Galera's fatal message (gcs_group.cpp,
// group_check_proto_ver), after which it aborts mariadbd.
var refusedLine = regexp.MustCompile(`Group requested (gcs_proto_ver|repl_proto_ver|appl_proto_ver): (\d+), max supported by this node: (\d+)`)

// ProtocolRefused recognises Galera's refusal in a line of mariadbd's
// log.
func ProtocolRefused(line string) (ProtocolRefusal, bool) {
	m := refusedLine.FindStringSubmatch(line)
	if m == nil {
		return ProtocolRefusal{}, false
	}
	req, err1 := strconv.Atoi(m[2])
	maxV, err2 := strconv.Atoi(m[3])
	if err1 != nil || err2 != nil || maxV >= req {
		return ProtocolRefusal{}, false
	}
	return ProtocolRefusal{Level: m[1], Requested: req, Max: maxV}, true
}

func clipText(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
