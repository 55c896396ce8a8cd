package recovery

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
)

const uuid = "c8bb4bee-e5d7-11f1-a5ed-f285d65e2e99"

func grastate(u, seqno, safe string) string {
	return "# GALERA saved state\nversion: 2.1\nuuid:    " + u + "\nseqno:   " + seqno + "\nsafe_to_bootstrap: " + safe + "\n"
}

func TestReadLocal(t *testing.T) {
	recovered := func(pos string) Recoverer {
		return func(context.Context) ([]byte, error) {
			return []byte("[Note] InnoDB: ...\n[Note] WSREP: Recovered position: " + pos + "\n"), nil
		}
	}
	noRecover := func(context.Context) ([]byte, error) {
		return nil, errors.New("must not run --wsrep-recover here")
	}
	for _, tc := range []struct {
		name    string
		files   map[string]string
		recover Recoverer
		want    galera.Member
		err     string
	}{
		{"empty", nil, noRecover, galera.Member{Empty: true, PositionKnown: true}, ""},
		{"lost+found only", map[string]string{"lost+found/": ""}, noRecover, galera.Member{Empty: true, PositionKnown: true}, ""},
		{"the sentinel's event journal only", map[string]string{"galera-sentinel-events.log": "{}", "galera-sentinel-events.1.log": "{}"}, noRecover,
			galera.Member{Empty: true, PositionKnown: true}, ""},
		{"an installation without grastate.dat: fresh", map[string]string{"ibdata1": "x", "mysql/": "", "performance_schema/": "", "sys/": "", "test/": "", "#innodb_temp/": ""}, noRecover,
			galera.Member{Fresh: true, PositionKnown: true, Position: galera.Position{UUID: galera.ZeroUUID, Seqno: -1}}, ""},
		{"mariadb-install-db's test database (its db.opt only): fresh", map[string]string{"ibdata1": "x", "mysql/": "", "sys/": "", "test/": "", "test/db.opt": "default-character-set=utf8mb4\n", "mysql_upgrade_info": "10.11.19-MariaDB"}, noRecover,
			galera.Member{Fresh: true, PositionKnown: true, Position: galera.Position{UUID: galera.ZeroUUID, Seqno: -1}}, ""},
		{"the sentinel's version record beside its journal: empty", map[string]string{"galera-sentinel.version": "11.8.9\n", "galera-sentinel-events.log": "{}"}, noRecover,
			galera.Member{Empty: true, PositionKnown: true}, ""},
		{"a user database without grastate.dat: data of its own", map[string]string{"ibdata1": "x", "mysql/": "", "shop/": ""}, noRecover,
			galera.Member{PositionKnown: true, Position: galera.Position{UUID: galera.ZeroUUID, Seqno: -1}}, ""},
		{"a test database with tables is data", map[string]string{"ibdata1": "x", "mysql/": "", "test/": "", "test/t.frm": "x"}, noRecover,
			galera.Member{PositionKnown: true, Position: galera.Position{UUID: galera.ZeroUUID, Seqno: -1}}, ""},
		{"sst_in_progress: an interrupted state transfer", map[string]string{"sst_in_progress": "", "grastate.dat": grastate(uuid, "42", "0"), "shop/": ""}, noRecover,
			galera.Member{NeedsSST: true, PositionKnown: true}, ""},
		{"an empty grastate.dat: an interrupted state transfer", map[string]string{"grastate.dat": "", "ibdata1": "x"}, noRecover,
			galera.Member{NeedsSST: true, PositionKnown: true}, ""},
		{"galera.cache without grastate.dat: an interrupted state transfer", map[string]string{"galera.cache": "x", "mysql/": ""}, noRecover,
			galera.Member{NeedsSST: true, PositionKnown: true}, ""},
		{"clean shutdown", map[string]string{"grastate.dat": grastate(uuid, "42", "1")}, noRecover,
			galera.Member{PositionKnown: true, Position: galera.Position{UUID: uuid, Seqno: 42}, SafeToBootstrap: true}, ""},
		{"crash", map[string]string{"grastate.dat": grastate(uuid, "-1", "0"), "gvwstate.dat": "view"}, recovered(uuid + ":57"),
			galera.Member{PositionKnown: true, Position: galera.Position{UUID: uuid, Seqno: 57}, SavedView: true}, ""},
		{"crash with zero uuid", map[string]string{"grastate.dat": grastate(galera.ZeroUUID, "-1", "0")}, recovered(uuid + ":9"),
			galera.Member{PositionKnown: true, Position: galera.Position{UUID: uuid, Seqno: 9}}, ""},
		{"nothing to recover, an installation only: fresh", map[string]string{"grastate.dat": grastate(galera.ZeroUUID, "-1", "0"), "mysql/": ""}, recovered(galera.ZeroUUID + ":-1"),
			galera.Member{Fresh: true, PositionKnown: true, Position: galera.Position{UUID: galera.ZeroUUID, Seqno: -1}}, ""},
		{"nothing to recover, data of its own", map[string]string{"grastate.dat": grastate(galera.ZeroUUID, "-1", "0"), "shop/": ""}, recovered(galera.ZeroUUID + ":-1"),
			galera.Member{PositionKnown: true, Position: galera.Position{UUID: galera.ZeroUUID, Seqno: -1}}, ""},
		{"corrupt", map[string]string{"grastate.dat": "version: 2.1\nuuid: nope\nseqno: 1\n"}, noRecover, galera.Member{}, "grastate.dat line 2"},
		{"recovered another cluster", map[string]string{"grastate.dat": grastate(uuid, "-1", "0")}, recovered("0a3f5e10-e5d8-11f1-9c1e-6a0b1f2e3d4c:3"), galera.Member{}, "names cluster"},
		{"recover fails", map[string]string{"grastate.dat": grastate(uuid, "-1", "0")},
			func(context.Context) ([]byte, error) { return nil, errors.New("exit status 1") }, galera.Member{}, "--wsrep-recover failed"},
		{"recover logs nothing", map[string]string{"grastate.dat": grastate(uuid, "-1", "0")},
			func(context.Context) ([]byte, error) { return []byte("InnoDB: hello\n"), nil }, galera.Member{}, "no \"Recovered position\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				// Map order is random: a file may come before its directory.
				p := filepath.Join(dir, name)
				if strings.HasSuffix(name, "/") {
					if err := os.MkdirAll(p, 0o755); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			local, err := ReadLocal(context.Background(), "n", dir, tc.recover)
			got := local.Member
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Name = "n"
			if got != tc.want {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
			// The typed hand-off: mariadbd must be given the position only
			// when it came from --wsrep-recover.
			if wantRecovered := strings.Contains(tc.files["grastate.dat"], "seqno:   -1"); local.Recovered != wantRecovered {
				t.Fatalf("Recovered = %v, want %v (%s)", local.Recovered, wantRecovered, local.How)
			}
		})
	}
	m, err := ReadLocal(context.Background(), "n", filepath.Join(t.TempDir(), "missing"), nil)
	if err != nil || !m.Empty {
		t.Fatalf("missing directory: %+v, %v", m, err)
	}
}

func TestSetSafeToBootstrapFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, GrastateFile)
	if err := os.WriteFile(path, []byte(grastate(uuid, "12", "0")), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := SetSafeToBootstrap(dir); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	g, err := galera.ParseGrastate(b)
	if err != nil || !g.SafeToBootstrap || g.Seqno != 12 {
		t.Fatalf("%+v %v\n%s", g, err, b)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v", st.Mode())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("left files behind: %v", ents)
	}
	os.WriteFile(path, []byte("garbage"), 0o640)
	if err := SetSafeToBootstrap(dir); err == nil {
		t.Fatal("rewrote a corrupt file")
	}
	if b, _ := os.ReadFile(path); string(b) != "garbage" {
		t.Fatal("the corrupt file was changed")
	}
}
