package galeramember

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseChecksums(t *testing.T) {
	got, err := parseChecksums("mysql.global_priv\t3171394811\nmysql.db\t1460226341\nmysql.tables_priv\t0\n")
	if err != nil || strings.Join(got, " ") != "global_priv=3171394811 db=1460226341 tables_priv=0" {
		t.Errorf("got %q, %v", got, err)
	}
	for _, bad := range []string{"", "mysql.db\t1\n", "Error: no such table\n", "mysql.db 1\nmysql.a\t2\nmysql.b\t3\n"} {
		if got, err := parseChecksums(bad); err == nil {
			t.Errorf("%q: %q and no error", bad, got)
		}
	}
}

// TestSystemTablesSettles: a checksum is compared only once two checks in
// a row found it; a change starts the count again; a failed check keeps
// the last checksum and says why; the upgrade marker is part of it.
func TestSystemTablesSettles(t *testing.T) {
	dir := t.TempDir()
	out, fail := "mysql.global_priv\t1\nmysql.db\t2\nmysql.tables_priv\t3\n", false
	s := &SystemTables{DataDir: dir, Logger: slog.New(slog.DiscardHandler), Query: func(context.Context, string) ([]byte, error) {
		if fail {
			return nil, errors.New("socket gone")
		}
		return []byte(out), nil
	}}
	ctx := context.Background()
	if s.Doc() != nil {
		t.Fatal("a doc before the first check")
	}
	s.check(ctx)
	first := *s.Doc()
	if first.Settled || first.Checksum == "" || !strings.Contains(first.Parts, "db=2") || !strings.Contains(first.Parts, "marker=unknown") {
		t.Errorf("first check: %+v", first)
	}
	s.check(ctx)
	if d := s.Doc(); !d.Settled || d.Checksum != first.Checksum {
		t.Errorf("second check, same tables: %+v", d)
	}
	if err := os.WriteFile(filepath.Join(dir, "mysql_upgrade_info"), []byte("10.11.19-MariaDB"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.check(ctx)
	if d := s.Doc(); d.Settled || d.Checksum == first.Checksum || !strings.Contains(d.Parts, "marker=10.11.19") {
		t.Errorf("after the marker changed: %+v", d)
	}
	fail = true
	before := *s.Doc()
	s.check(ctx)
	if d := s.Doc(); d.Checksum != before.Checksum || d.Error != "socket gone" {
		t.Errorf("a failed check: %+v", d)
	}
}
