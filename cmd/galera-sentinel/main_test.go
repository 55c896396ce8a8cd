package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"version"}, func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"galera-sentinel ", "commit: ", "go: go1."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("version output %q lacks %q", out.String(), want)
		}
	}
}

func TestBadCommandLines(t *testing.T) {
	for _, args := range [][]string{nil, {"frobnicate"}, {"version", "--bogus"}, {"version", "extra"}} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, func(string) string { return "" }, &out, &errOut)
		if !errors.Is(err, errUsage) || exitCode(err) != 2 {
			t.Errorf("%q: err %v (exit %d), want a usage error (exit 2)", args, err, exitCode(err))
		}
	}
}
