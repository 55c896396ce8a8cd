package upgrade

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func v(major, minor, patch int) Version { return Version{major, minor, patch} }

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Version
		err  bool
	}{
		{"10.11.19-MariaDB-0+deb12u1", v(10, 11, 19), false},
		{"10.11.19-MariaDB", v(10, 11, 19), false},
		{"MariaDB 10.11.19", v(10, 11, 19), false},
		{"mariadbd  Ver 11.8.9-MariaDB-1 from Debian for debian-linux-gnu on x86_64 (Debian 13)", v(11, 8, 9), false},
		{"/usr/sbin/mariadbd  Ver 10.6.21-MariaDB-0ubuntu0.22.04.2 for debian-linux-gnu on x86_64 ((Ubuntu))", v(10, 6, 21), false},
		{"11.8.9\n", v(11, 8, 9), false},
		{"", Version{}, true},
		{"10.11", Version{}, true},
		{"0.0.1 10.x", Version{}, true},
		{"10.11.19999999", Version{}, true},
		{"garbage", Version{}, true},
		{"10.-1.2", Version{}, true},
	} {
		got, err := Parse(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("Parse(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestMixable(t *testing.T) {
	for _, tc := range []struct {
		a, b Version
		ok   bool
		why  string
	}{
		{v(10, 11, 6), v(10, 11, 19), true, ""},
		{v(10, 6, 21), v(10, 11, 19), true, ""}, // adjacent long-term series
		{v(10, 11, 19), v(11, 4, 5), true, ""},
		{v(11, 4, 5), v(11, 8, 9), true, ""},
		{v(10, 11, 19), v(11, 2, 1), true, ""}, // short-term between long-term ones
		{v(10, 11, 19), v(11, 8, 9), false, "MariaDB 10.11.19 and 11.8.9 may not run in one cluster: a rolling upgrade is supported only between adjacent major versions, and 11.4 lies between (10.11 → 11.4 → 11.8)"},
		{v(11, 8, 9), v(10, 11, 19), false, "MariaDB 10.11.19 and 11.8.9"},
		{v(10, 5, 1), v(11, 4, 0), false, "10.6 and 10.11 lies between (10.5 → 10.6 → 10.11 → 11.4)"},
		{Version{}, v(11, 8, 9), true, ""},
		{v(11, 8, 9), v(12, 3, 1), true, ""}, // no long-term series known between
	} {
		ok, why := Mixable(tc.a, tc.b)
		if ok != tc.ok || !strings.Contains(why, tc.why) || (tc.ok && why != "") {
			t.Errorf("Mixable(%v, %v) = %v %q; want %v %q", tc.a, tc.b, ok, why, tc.ok, tc.why)
		}
	}
}

func TestFrom(t *testing.T) {
	for _, tc := range []struct {
		data, bin Version
		want      Change
	}{
		{v(10, 11, 19), v(10, 11, 19), Unchanged},
		{v(10, 11, 6), v(10, 11, 19), Minor},
		{v(10, 11, 19), v(11, 8, 9), Major},
		{v(10, 11, 19), v(10, 11, 6), Downgrade},
		{v(11, 8, 9), v(10, 11, 19), Downgrade},
		{Version{}, v(10, 11, 19), Unchanged},
		{v(10, 11, 19), Version{}, Unchanged},
	} {
		if got := From(tc.data, tc.bin); got != tc.want {
			t.Errorf("From(%v, %v) = %v, want %v", tc.data, tc.bin, got, tc.want)
		}
	}
}

// redo is the first bytes of a 10.8-format redo log made by creator.
func redo(creator string) string {
	b := make([]byte, 512)
	copy(b, "Phys")
	copy(b[16:], creator)
	return string(b)
}

func TestReadData(t *testing.T) {
	for _, tc := range []struct {
		name     string
		files    map[string]string
		newest   Version
		marker   Version
		record   Version
		problems int
		says     string
	}{
		{"nothing", nil, Version{}, Version{}, Version{}, 0, "unknown"},
		{"an installation", map[string]string{MarkerFile: "10.11.19-MariaDB", "ib_logfile0": redo("MariaDB 10.11.19")}, v(10, 11, 19), v(10, 11, 19), Version{}, 0,
			"10.11.19 (mysql_upgrade_info 10.11.19, the redo log 10.11.19)"},
		{"an empty marker (--check-if-upgrade-is-needed) is no marker", map[string]string{MarkerFile: "", "ib_logfile0": redo("MariaDB 10.11.6")}, v(10, 11, 6), Version{}, Version{}, 0, "the redo log 10.11.6"},
		{"the newest witness wins", map[string]string{MarkerFile: "10.11.19-MariaDB", "galera-sentinel.version": "11.8.9\n", "ib_logfile0": redo("MariaDB 10.11.19")},
			v(11, 8, 9), v(10, 11, 19), v(11, 8, 9), 0, "the sentinel's record 11.8.9"},
		{"a garbled marker is told, not believed", map[string]string{MarkerFile: "\x00\x01junk"}, Version{}, Version{}, Version{}, 1, "unknown"},
		{"an old-format redo log says nothing", map[string]string{"ib_logfile0": strings.Repeat("\x00", 512)}, Version{}, Version{}, Version{}, 0, "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, c := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			d := ReadData(dir)
			if d.Newest != tc.newest || d.Marker != tc.marker || d.Record != tc.record || len(d.Problems) != tc.problems || !strings.Contains(d.String(), tc.says) {
				t.Errorf("got newest %v marker %v record %v problems %q %q; want %v %v %v %d problems, saying %q", d.Newest, d.Marker, d.Record, d.Problems, d.String(),
					tc.newest, tc.marker, tc.record, tc.problems, tc.says)
			}
		})
	}
}

func TestWriteRecord(t *testing.T) {
	dir := t.TempDir()
	if err := WriteRecord(dir, v(11, 8, 9)); err != nil {
		t.Fatal(err)
	}
	if d := ReadData(dir); d.Record != v(11, 8, 9) {
		t.Errorf("record %v after writing 11.8.9", d.Record)
	}
	if err := WriteRecord(dir, Version{}); err == nil {
		t.Error("an unknown version was recorded")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("%d files left, want the record alone", len(ents))
	}
}
