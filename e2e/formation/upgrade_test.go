package formation

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/journal"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
	"github.com/galera-sentinel/galera-sentinel/internal/testsentinel"
	"github.com/galera-sentinel/galera-sentinel/internal/upgrade"
)

// events reads a node's journal.
func events(t *testing.T, n *testcluster.Node) []journal.Event {
	t.Helper()
	f, err := os.Open(filepath.Join(n.DataDir, journal.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []journal.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e journal.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err == nil {
			out = append(out, e)
		}
	}
	return out
}

// binaryVersion is the version of the mariadbd the tests run.
func binaryVersion(t *testing.T) upgrade.Version {
	t.Helper()
	out, err := exec.Command(testcluster.MariadbdPath, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	v, err := upgrade.Parse(string(out))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRunVersions: a member whose data an older release of its series
// wrote (here after a kill -9: an unclean stop before the new version)
// recovers, joins, runs mariadb-upgrade once it is Synced and only then
// reports ready, and the journal says so; a member whose data a newer
// version wrote is refused with the reason and nothing started, and
// starts once the operator puts the matching version back.
func TestRunVersions(t *testing.T) {
	bin := binaryVersion(t)
	if bin.Patch == 0 {
		t.Fatalf("mariadbd %s: no older release of its series to pretend", bin)
	}
	older := upgrade.Version{Major: bin.Major, Minor: bin.Minor, Patch: 0}
	newer := upgrade.Version{Major: bin.Major, Minor: bin.Minor + 1, Patch: 0}
	rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 3})
	rc.WithFlags(func(*testcluster.Node) []string { return []string{"--system-tables-every=1s"} })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rc.StartAll()
	rc.WaitSynced(ctx, 3)
	n1, n2, n3 := rc.C.Nodes[0], rc.C.Nodes[1], rc.C.Nodes[2]
	testsentinel.WriteRows(ctx, t, n1, "before", 20)
	// The first formation: whoever joined by state transfer had no
	// upgrade marker and ran mariadb-upgrade once; every member now
	// records the running version.
	for _, n := range rc.C.Nodes {
		testcluster.Eventually(t, ctx, n.Name+": version recorded", 100*time.Millisecond, func() error {
			if d := upgrade.ReadData(n.DataDir); d.Record != bin || d.Marker != bin {
				return fmt.Errorf("record %v, marker %v; want %v", d.Record, d.Marker, bin)
			}
			return nil
		})
	}

	// Each running member publishes its Galera library and its
	// component's protocols, as mariadbd's log says them (a member whose
	// library Galera refused compares its own with them).
	for _, n := range rc.C.Nodes {
		testcluster.Eventually(t, ctx, n.Name+": Galera protocols published", 200*time.Millisecond, func() error {
			st, err := peerState(ctx, n)
			if err != nil {
				return err
			}
			p, err := galera.ParseProtocols(st.GaleraProtocols)
			if err != nil || p.GCS < 1 || p.Repl < 1 || st.ProviderVersion == "" {
				return fmt.Errorf("galera_protocols %q (%v), provider_version %q", st.GaleraProtocols, err, st.ProviderVersion)
			}
			return nil
		})
	}
	if st, err := peerState(ctx, n1); err == nil {
		t.Logf("%s publishes Galera %s, protocols %s (gcs/repl/appl)", n1.Name, st.ProviderVersion, st.GaleraProtocols)
	}

	t.Run("a minor upgrade after an unclean stop: mariadb-upgrade before ready", func(t *testing.T) {
		if err := n3.Kill(); err != nil {
			t.Fatal(err)
		}
		testsentinel.WriteRows(ctx, t, n1, "while-down", 20)
		// What the release before left: its marker, the record and the
		// redo log it created.
		writeFile(t, filepath.Join(n3.DataDir, upgrade.MarkerFile), older.String()+"-MariaDB")
		setRedoCreator(t, filepath.Join(n3.DataDir, "ib_logfile0"), "MariaDB "+older.String())
		if err := upgrade.WriteRecord(n3.DataDir, older); err != nil {
			t.Fatal(err)
		}
		began := len(events(t, n3))
		rc.Start(n3)
		took := rc.WaitSynced(ctx, 3, n3)
		evs := events(t, n3)[began:]
		upgraded, readyAt := -1, -1
		for i, e := range evs {
			if e.Kind == journal.KindUpgrade && strings.HasPrefix(e.Reason, "mariadb-upgrade brought the system tables from "+older.String()+" to "+bin.String()) && upgraded < 0 {
				upgraded = i
			}
			if e.Kind == journal.KindVerdict && e.Probe == "ready" && e.OK != nil && *e.OK && readyAt < 0 {
				readyAt = i
			}
		}
		if upgraded < 0 || readyAt < 0 || readyAt < upgraded {
			t.Fatalf("the journal does not show mariadb-upgrade before the first ready verdict (upgrade at %d, ready at %d):\n%s", upgraded, readyAt, eventLines(evs))
		}
		var found bool
		for _, e := range evs[:upgraded] {
			found = found || e.Kind == journal.KindUpgrade && strings.Contains(e.Reason, "a minor upgrade")
		}
		if !found {
			t.Errorf("the version change was not journalled before the start:\n%s", eventLines(evs))
		}
		if d := upgrade.ReadData(n3.DataDir); d.Marker != bin || d.Record != bin {
			t.Errorf("after the upgrade: marker %v, record %v; want %v", d.Marker, d.Record, bin)
		}
		t.Logf("minor upgrade after kill -9: ready in %v; %s", took.Round(time.Millisecond), evs[upgraded].Reason)
		testsentinel.CheckRows(ctx, t, 40, rc.C.Nodes...)
		// Restarted on the same version, it does not run again.
		again := len(events(t, n3))
		rc.Stop(ctx, n3)
		rc.Start(n3)
		rc.WaitSynced(ctx, 3, n3)
		for _, e := range events(t, n3)[again:] {
			if e.Kind == journal.KindUpgrade {
				t.Errorf("restarted on the same version: %s", e.Reason)
			}
		}
	})

	// What the trial saw after mariadb-upgrade ran on one member only: a
	// GRANT applied there and absent elsewhere, no error, no vote. Here
	// the GRANT runs with wsrep_on=OFF on one member (one version is
	// installed); status must name that member.
	t.Run("a GRANT on one member only is named by status", func(t *testing.T) {
		var peers []string
		for _, n := range rc.C.Nodes {
			peers = append(peers, n.SentinelAddr())
		}
		status := func() (string, int) {
			out, stderr, err := testsentinel.Command(ctx, t, []string{"status", "--peers=" + strings.Join(peers, ",")})
			return out + stderr, testsentinel.ExitCode(err)
		}
		testcluster.Eventually(t, ctx, "a healthy status before", 500*time.Millisecond, func() error {
			if out, code := status(); code != 0 {
				return fmt.Errorf("exit %d:\n%s", code, out)
			}
			return nil
		})
		conn, err := n1.DB().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, stmt := range []string{"SET SESSION wsrep_on=OFF", "CREATE USER 'lonely'@'%' IDENTIFIED BY 'pw'", "GRANT SELECT ON shop.* TO 'lonely'@'%'"} {
			if _, err := conn.ExecContext(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		conn.Close()
		began := time.Now()
		want := "system tables differ, which Galera does not report: " + n1.Name + " ("
		var out string
		testcluster.Eventually(t, ctx, "status names "+n1.Name, 500*time.Millisecond, func() error {
			var code int
			if out, code = status(); code != 1 || !strings.Contains(out, want) {
				return fmt.Errorf("exit %d:\n%s", code, out)
			}
			return nil
		})
		t.Logf("status named the diverged member %v after the GRANT:\n%s", time.Since(began).Round(100*time.Millisecond), testsentinel.LastLines(out, 2))
		// Each member counts the others that differ from it: the odd one
		// out sees two.
		testcluster.Eventually(t, ctx, n1.Name+"'s metric", 500*time.Millisecond, func() error {
			body, err := getAll("http://" + n1.SentinelAddr() + "/metrics")
			if err != nil || !strings.Contains(body, "\ngalera_sentinel_system_tables_differing_members 2\n") {
				return fmt.Errorf("%v: %s", err, grepLine(body, "system_tables_differing"))
			}
			return nil
		})
		if got, err := n2.QueryInt(ctx, "SELECT COUNT(*) FROM mysql.db WHERE User='lonely'"); err != nil || got != 0 {
			t.Fatalf("the GRANT reached %s (%d rows, %v): the test did not diverge anything", n2.Name, got, err)
		}
		// Made the same everywhere, status is healthy again.
		conn, err = n1.DB().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, stmt := range []string{"SET SESSION wsrep_on=OFF", "DROP USER 'lonely'@'%'"} {
			if _, err := conn.ExecContext(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		conn.Close()
		testcluster.Eventually(t, ctx, "a healthy status after", 500*time.Millisecond, func() error {
			if out, code := status(); code != 0 {
				return fmt.Errorf("exit %d:\n%s", code, out)
			}
			return nil
		})
	})

	t.Run("a downgrade is refused, nothing started", func(t *testing.T) {
		rc.Stop(ctx, n2)
		writeFile(t, filepath.Join(n2.DataDir, "galera-sentinel.version"), newer.String()+"\n")
		starts := testsentinel.CountLogs(n2, "starting mariadbd")
		rc.Start(n2)
		testsentinel.WaitListening(t, n2)
		want := "this data directory was last written by MariaDB " + newer.String() + " and this is " + bin.String() + ": a downgrade is not supported"
		testsentinel.WaitProbe(t, "http://"+n2.SentinelAddr()+"/readyz", 503, want, 30*time.Second)
		if code, body, err := testsentinel.TryProbe("http://" + n2.SentinelAddr() + "/livez"); err != nil || code != 200 {
			t.Errorf("/livez %d %q %v while refusing: it must not be restarted", code, body, err)
		}
		time.Sleep(2 * time.Second) // several decisions
		if got := testsentinel.CountLogs(n2, "starting mariadbd"); got != starts {
			t.Errorf("mariadbd started %d times while refusing", got-starts)
		}
		// The operator puts the right version back (here: the record
		// said newer than the truth); the member joins, its data intact.
		rc.Stop(ctx, n2)
		if err := os.Remove(filepath.Join(n2.DataDir, "galera-sentinel.version")); err != nil {
			t.Fatal(err)
		}
		rc.Start(n2)
		rc.WaitSynced(ctx, 3, n2)
		testsentinel.CheckRows(ctx, t, 40, rc.C.Nodes...)
	})
}

// setRedoCreator rewrites the creator a 10.8-format redo log names in its
// header (offset 16), and the header's CRC-32C (offset 508), as a server
// of that version would have written it.
func setRedoCreator(t *testing.T, path, creator string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 512)
	if _, err := io.ReadFull(f, b); err != nil {
		t.Fatal(err)
	}
	if string(b[:4]) != "Phys" || binary.BigEndian.Uint32(b[508:]) != crc32.Checksum(b[:508], crc32.MakeTable(crc32.Castagnoli)) {
		t.Fatalf("%s: not a 10.8-format redo log header", path)
	}
	clear(b[16:48])
	copy(b[16:48], creator)
	binary.BigEndian.PutUint32(b[508:], crc32.Checksum(b[:508], crc32.MakeTable(crc32.Castagnoli)))
	if _, err := f.WriteAt(b, 0); err != nil {
		t.Fatal(err)
	}
}

func getAll(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func grepLine(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			return l
		}
	}
	return "(none)"
}

func eventLines(evs []journal.Event) string {
	var b strings.Builder
	for _, e := range evs {
		b.WriteString(e.Time.Format("15:04:05.000") + " " + e.Kind + " " + e.Probe + " " + e.Reason + "\n")
	}
	return b.String()
}

// TestRunFreshInstallsWithTestDB: three data directories that
// mariadb-install-db filled without --skip-test-db (an empty "test"
// database holding its db.opt) are fresh installations: they form a
// cluster by themselves.
func TestRunFreshInstallsWithTestDB(t *testing.T) {
	rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, n := range rc.C.Nodes {
		out, err := exec.CommandContext(ctx, testcluster.InstallDBPath, "--no-defaults", "--user=mysql", "--datadir="+n.DataDir,
			"--auth-root-authentication-method=socket", "--skip-name-resolve").CombinedOutput()
		if err != nil {
			t.Fatalf("%s: mariadb-install-db: %v\n%s", n.Name, err, out)
		}
		if _, err := os.Stat(filepath.Join(n.DataDir, "test", "db.opt")); err != nil {
			t.Fatalf("%s: mariadb-install-db made no test database to test with: %v", n.Name, err)
		}
	}
	rc.StartAll()
	t.Logf("three installations with a test database: Synced in %v", rc.WaitSynced(ctx, 3).Round(time.Millisecond))
	if got := rc.CountLogs("new_cluster=true"); got != 1 {
		t.Errorf("%d members started a new cluster, want 1", got)
	}
}

// peerState is what n's sentinel tells its peers (GET /api/v1/state).
func peerState(ctx context.Context, n *testcluster.Node) (peer.State, error) {
	var st peer.State
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.SentinelAddr()+"/api/v1/state", nil)
	if err != nil {
		return st, err
	}
	req.Header.Set("Authorization", "Bearer "+testsentinel.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("GET /api/v1/state: %s", resp.Status)
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st)
	return st, err
}
