package galera

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ZeroUUID is the cluster UUID of a node that holds no Galera state: it
// never joined a cluster, or its last state transfer did not finish.
const ZeroUUID = "00000000-0000-0000-0000-000000000000"

// maxGrastate bounds what we read: a real grastate.dat is ~150 bytes.
const maxGrastate = 64 << 10

// GraState is the content of a node's grastate.dat.
type GraState struct {
	Version         string
	UUID            string
	Seqno           int64 // -1: unknown (the node crashed or is running)
	SafeToBootstrap bool
}

// HasState reports whether the file names a real cluster.
func (g GraState) HasState() bool { return g.UUID != ZeroUUID }

// ParseGrastate parses grastate.dat. It accepts exactly what Galera writes
// (comment lines, "key: value" lines) and rejects anything it cannot read
// with certainty: a guessed position could bootstrap the wrong node.
// Unknown keys are allowed, for newer Galera versions; a repeated key is not.
func ParseGrastate(b []byte) (GraState, error) {
	var g GraState
	if len(b) > maxGrastate {
		return g, fmt.Errorf("grastate.dat: %d bytes, more than a grastate.dat ever holds", len(b))
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return g, errors.New("grastate.dat: empty file")
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 1024), maxGrastate)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		key, val, ok := strings.Cut(text, ":")
		if !ok {
			return g, fmt.Errorf("grastate.dat line %d: %q is not \"key: value\"", line, clip(text))
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if seen[key] {
			return g, fmt.Errorf("grastate.dat line %d: %q given twice", line, clip(key))
		}
		seen[key] = true
		switch key {
		case "version":
			if val == "" {
				return g, fmt.Errorf("grastate.dat line %d: empty version", line)
			}
			g.Version = val
		case "uuid":
			if !ValidUUID(val) {
				return g, fmt.Errorf("grastate.dat line %d: uuid %q is not a UUID", line, clip(val))
			}
			g.UUID = strings.ToLower(val)
		case "seqno":
			n, err := ParseSeqno(val)
			if err != nil {
				return g, fmt.Errorf("grastate.dat line %d: %w", line, err)
			}
			g.Seqno = n
		case "safe_to_bootstrap":
			switch val {
			case "0":
			case "1":
				g.SafeToBootstrap = true
			default:
				return g, fmt.Errorf("grastate.dat line %d: safe_to_bootstrap %q: want 0 or 1", line, clip(val))
			}
		}
	}
	if err := sc.Err(); err != nil {
		return g, fmt.Errorf("grastate.dat: %w", err)
	}
	var missing []string
	for _, k := range []string{"version", "uuid", "seqno"} {
		if !seen[k] {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return g, fmt.Errorf("grastate.dat: no %s", strings.Join(missing, ", "))
	}
	return g, nil
}

// SetSafeToBootstrap returns grastate.dat with safe_to_bootstrap set to 1,
// every other line kept as it was. The input must parse.
func SetSafeToBootstrap(b []byte) ([]byte, error) {
	if _, err := ParseGrastate(b); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	found := false
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if l == "" {
			continue
		}
		key, _, ok := strings.Cut(strings.TrimSpace(l), ":")
		if ok && strings.TrimSpace(key) == "safe_to_bootstrap" {
			out.WriteString("safe_to_bootstrap: 1\n")
			found = true
			continue
		}
		out.WriteString(l)
	}
	if !found {
		if out.Len() > 0 && !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
			out.WriteByte('\n')
		}
		out.WriteString("safe_to_bootstrap: 1\n")
	}
	return out.Bytes(), nil
}

// ValidUUID reports whether s is a UUID in the 8-4-4-4-12 hex form Galera
// uses.
func ValidUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// ParseSeqno parses a Galera seqno: a decimal integer, -1 for unknown.
func ParseSeqno(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < -1 {
		return 0, fmt.Errorf("seqno %q: want an integer >= -1", clip(s))
	}
	return n, nil
}

// Position is a node's place in the cluster's history.
type Position struct {
	UUID  string
	Seqno int64
}

func (p Position) String() string { return fmt.Sprintf("%s:%d", p.UUID, p.Seqno) }

// recoveredMarker precedes the position in the log of mariadbd --wsrep-recover.
const recoveredMarker = "WSREP: Recovered position:"

// ParseRecoveredPosition finds the position that `mariadbd --wsrep-recover`
// logged ("WSREP: Recovered position: <uuid>:<seqno>", where newer servers
// may append ",<gtid>"). When the log names several, the last one counts.
// A log with none, or with a malformed one, is an error: the caller must
// not guess.
func ParseRecoveredPosition(log []byte) (Position, error) {
	i := bytes.LastIndex(log, []byte(recoveredMarker))
	if i < 0 {
		return Position{}, errors.New("wsrep-recover: no \"Recovered position\" in the log")
	}
	rest := log[i+len(recoveredMarker):]
	if j := bytes.IndexByte(rest, '\n'); j >= 0 {
		rest = rest[:j]
	}
	fields := strings.Fields(string(rest))
	if len(fields) == 0 {
		return Position{}, errors.New("wsrep-recover: empty recovered position")
	}
	pos := fields[0]
	if j := strings.IndexByte(pos, ','); j >= 0 {
		pos = pos[:j] // ",domain-server-seqno": the GTID, not ours
	}
	u, s, ok := strings.Cut(pos, ":")
	if !ok || !ValidUUID(u) {
		return Position{}, fmt.Errorf("wsrep-recover: recovered position %q is not <uuid>:<seqno>", clip(fields[0]))
	}
	n, err := ParseSeqno(s)
	if err != nil {
		return Position{}, fmt.Errorf("wsrep-recover: %w", err)
	}
	return Position{UUID: strings.ToLower(u), Seqno: n}, nil
}

// clip keeps error messages one short line whatever the input.
func clip(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
