package galeramember

import (
	"fmt"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/journal"
	"github.com/galera-sentinel/galera-sentinel/internal/recovery"
)

// protocolState is what mariadbd's log said of Galera (Member.LogLine):
// the library's version, and Galera's refusal of it by a component that
// speaks a newer protocol than it does, with the library file as it was
// then.
type protocolState struct {
	provider string
	refused  galera.ProtocolRefusal
	library  fileID
}

// fileID tells one library file from another put in its place (a
// package upgrade): its size and modification time.
type fileID struct {
	size  int64
	mtime time.Time
}

func libraryID(path string) fileID {
	if path == "" {
		return fileID{}
	}
	st, err := os.Stat(path)
	if err != nil {
		return fileID{}
	}
	return fileID{st.Size(), st.ModTime()}
}

// loadedPrefix and loadedSuffix frame the library's version in the line
// mariadbd prints when it loads Galera: "WSREP: wsrep_load(): Galera
// 26.4.23(r...) by Codership Oy <info@codership.com> loaded
// successfully."
const (
	loadedPrefix = "wsrep_load(): Galera "
	loadedSuffix = " by Codership"
)

// loadedProvider reads the library's version from the load line.
func loadedProvider(line string) (string, bool) {
	i := strings.Index(line, loadedPrefix)
	if i < 0 {
		return "", false
	}
	rest := line[i+len(loadedPrefix):]
	j := strings.Index(rest, loadedSuffix)
	if j <= 0 || j > 64 {
		return "", false
	}
	// What peers accept (peer.State.Validate): a version that did not
	// pass would make them refuse this member's whole state.
	v := rest[:j]
	if strings.IndexFunc(v, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }) >= 0 {
		return "", false
	}
	return v, true
}

// LogLine reads a line of mariadbd's log (mariadbd.Runner.OnLine): the
// library's version when it is loaded, the protocols of each new view
// (published to the peers: a member whose library was refused compares
// its own with them before it tries again), and Galera's refusal of this
// member's library, which it journals with what to do and keeps for the
// decisions while the library file is the same.
func (m *Member) LogLine(line string) {
	if p, ok := galera.ProtocolsInLog(line); ok {
		m.mu.Lock()
		m.self.Member.Protocols = p
		m.mu.Unlock()
		return
	}
	if v, ok := loadedProvider(line); ok {
		m.mu.Lock()
		m.proto.provider, m.self.Member.Provider = v, v
		m.mu.Unlock()
		return
	}
	r, ok := galera.ProtocolRefused(line)
	if !ok {
		return
	}
	id := libraryID(m.cfg.ProviderPath)
	m.mu.Lock()
	m.proto.refused, m.proto.library = r, id
	lib := m.proto.provider
	m.mu.Unlock()
	if lib == "" {
		lib = "its version unknown"
	}
	why := fmt.Sprintf("Galera refused this member's library (%s, %s): %s. It cannot join that component until it runs a Galera library at least as new as the other members' "+
		"(a newer image, or the galera-4 package of their version); it does not try again while its library is the same and the component speaks that version",
		lib, m.cfg.ProviderPath, r)
	m.log.Error(why)
	m.cfg.Events(journal.Event{Kind: journal.KindUpgrade, Reason: why})
}

// readProtocols gives the position read before a start what is known of
// the library: its version, and Galera's refusal of it unless the library
// file changed since.
func (m *Member) readProtocols(local *recovery.Local) {
	m.mu.Lock()
	defer m.mu.Unlock()
	local.Provider = m.proto.provider
	if m.proto.refused.IsZero() {
		return
	}
	if libraryID(m.cfg.ProviderPath) != m.proto.library {
		m.log.Info("Galera's library changed since Galera refused it: trying the new one", "library", m.cfg.ProviderPath)
		m.proto = protocolState{}
		local.Provider = ""
		return
	}
	local.CannotSpeak = m.proto.refused
}
