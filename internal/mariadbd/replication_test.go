package mariadbd

import (
	"slices"
	"strings"
	"testing"
)

func TestReplicationServeArgs(t *testing.T) {
	c := Config{Command: []string{"/usr/sbin/mariadbd", "--defaults-file=/etc/my.cnf"}, DataDir: "/data", PassDataDir: true}
	got := c.ReplicationServeArgs()
	want := []string{"/usr/sbin/mariadbd", "--defaults-file=/etc/my.cnf", "--datadir=/data", "--read-only", "--skip-slave-start"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for _, a := range got {
		if strings.Contains(a, "wsrep") {
			t.Fatalf("a wsrep option in %q", got)
		}
	}
	if c.Command[len(c.Command)-1] != "--defaults-file=/etc/my.cnf" {
		t.Fatal("the configured command was changed")
	}
}
