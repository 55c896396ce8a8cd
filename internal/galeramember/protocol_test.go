package galeramember

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/journal"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
	"github.com/galera-sentinel/galera-sentinel/internal/recovery"
)

// TestLogLineProtocols: mariadbd's lines, as MariaDB 10.11 and Galera
// 26.4 print them, give the member its library's version and the
// component's protocols (published to the peers while it runs); Galera's
// refusal is journalled and kept for the next decisions, until the library
// file changes.
func TestLogLineProtocols(t *testing.T) {
	lib := filepath.Join(t.TempDir(), "libgalera_smm.so")
	if err := os.WriteFile(lib, []byte("old library"), 0o644); err != nil {
		t.Fatal(err)
	}
	var events []string
	cfg := Config{ProviderPath: lib}
	cfg.Events = func(e journal.Event) { events = append(events, e.Kind+": "+e.Reason) }
	m := &Member{cfg: cfg, log: slog.New(slog.DiscardHandler)}
	m.self = peer.Self{Member: galera.Member{Name: "galera-0"}, Phase: peer.PhaseRunning, InstanceID: "a1"}

	for _, l := range []string{
		"2026-12-06 20:53:32 0 [Note] WSREP: wsrep_load(): loading provider library '/usr/lib/galera/libgalera_smm.so'",
		"2026-12-06 20:53:32 0 [Note] WSREP: wsrep_load(): Galera 26.4.20(r7a8ad2b) by Codership Oy <info@codership.com> loaded successfully.",
		"\tprotocols  = 4/11/4 (gcs/repl/appl),",
	} {
		m.LogLine(l)
	}
	st := peer.NewState(m.self, nil, false)
	if st.ProviderVersion != "26.4.20(r7a8ad2b)" || st.GaleraProtocols != "4/11/4" {
		t.Fatalf("published provider %q, protocols %q", st.ProviderVersion, st.GaleraProtocols)
	}
	if err := st.Validate(); err != nil {
		t.Fatalf("the state it publishes is refused: %v", err)
	}
	if back := st.Member(); back.Protocols != (galera.Protocols{GCS: 4, Repl: 11, Appl: 4}) || back.Provider != "26.4.20(r7a8ad2b)" {
		t.Errorf("a peer reads %+v %q", back.Protocols, back.Provider)
	}

	// A version peers would refuse is not taken.
	m.LogLine("WSREP: wsrep_load(): Galera 26.4 (odd build) by Codership Oy <info@codership.com> loaded successfully.")
	if st := peer.NewState(m.self, nil, false); st.ProviderVersion != "26.4.20(r7a8ad2b)" || st.Validate() != nil {
		t.Errorf("after an odd load line: provider %q (%v)", st.ProviderVersion, st.Validate())
	}

	// Refused by a component of newer libraries.
	m.LogLine("2026-12-06 20:54:01 0 [ERROR] WSREP: gcs/src/gcs_group.cpp:group_check_proto_ver():343: Group requested gcs_proto_ver: 5, max supported by this node: 4.Upgrade the node before joining this group.Need to abort.")
	if len(events) != 1 || !strings.Contains(events[0], "upgrade: Galera refused this member's library (26.4.20(r7a8ad2b), "+lib+"): the component requested gcs_proto_ver 5, this node's Galera library supports up to 4") {
		t.Fatalf("journal %q", events)
	}
	var local recovery.Local
	m.readProtocols(&local)
	if local.CannotSpeak != (galera.ProtocolRefusal{Level: "gcs_proto_ver", Requested: 5, Max: 4}) || local.Provider != "26.4.20(r7a8ad2b)" {
		t.Fatalf("the next decision's self: %+v %q", local.CannotSpeak, local.Provider)
	}
	d := galera.Decide(galera.View{Self: local.Member, Expected: 2, Peers: []galera.Member{{Name: "galera-1", PositionKnown: true, Running: true, Primary: true,
		Protocols: galera.Protocols{GCS: 5, Repl: 11, Appl: 4}, Provider: "26.4.21(r1)"}}})
	if d.Class != galera.DecidedProtocolGap || !strings.Contains(d.Reason, "galera-1 runs Galera 26.4.21(r1)") {
		t.Errorf("decided %s %s: %s", d.Action, d.Class, d.Reason)
	}

	// The library replaced (a package upgrade): the refusal is forgotten.
	time.Sleep(10 * time.Millisecond)
	if err := os.WriteFile(lib, []byte("a newer library, longer"), 0o644); err != nil {
		t.Fatal(err)
	}
	local = recovery.Local{}
	m.readProtocols(&local)
	if !local.CannotSpeak.IsZero() {
		t.Errorf("the refusal of the old library still holds after the library changed: %+v", local.CannotSpeak)
	}
}
