package upgrade

import (
	"strings"
	"testing"
)

func TestCrashedOlder(t *testing.T) {
	v11 := Version{11, 8, 9}
	for _, c := range []struct {
		name, text string
		binary     Version
		want       []string // in the advice; nil: not recognised
	}{
		{
			name: "a 10.5 log left by a crash, read by 11.8",
			text: "2026-12-06 10:00:00 0 [Note] InnoDB: Number of transaction pools: 1\n" +
				"2026-12-06 10:00:00 0 [ERROR] InnoDB: Upgrade after a crash is not supported. The redo log was created with MariaDB 10.5.23.\n" +
				"2026-12-06 10:00:00 0 [ERROR] InnoDB: Plugin initialization aborted with error Generic error\n",
			binary: v11,
			want:   []string{"crash or a kill of MariaDB 10.5.23", "MariaDB 11.8.9 cannot recover", "start MariaDB 10.5.23 on it once", "then MariaDB 11.8.9", "joins by a state transfer"},
		},
		{
			name:   "older than 10.2.2, the binary unknown",
			text:   "[ERROR] InnoDB: Upgrade after a crash is not supported. This redo log was created before MariaDB 10.2.2.",
			want:   []string{"the MariaDB older than 10.2.2 that wrote it", "this version cannot recover"},
			binary: Version{},
		},
		{
			name:   "a creator that names no version",
			text:   "[ERROR] InnoDB: Upgrade after a crash is not supported. The redo log was created with ibbackup.",
			binary: v11,
			want:   []string{"crash or a kill of the version that wrote it"},
		},
		{name: "a clean log", text: "[Note] InnoDB: log sequence number 46846; transaction id 14", binary: v11},
		{name: "empty", text: "", binary: v11},
	} {
		t.Run(c.name, func(t *testing.T) {
			advice, ok := CrashedOlder(c.text, c.binary)
			if ok != (c.want != nil) {
				t.Fatalf("recognised %v, want %v: %q", ok, c.want != nil, advice)
			}
			for _, w := range c.want {
				if !strings.Contains(advice, w) {
					t.Errorf("advice %q lacks %q", advice, w)
				}
			}
			if ok && strings.Contains(advice, "\n") {
				t.Errorf("advice spans lines: %q", advice)
			}
		})
	}
}
