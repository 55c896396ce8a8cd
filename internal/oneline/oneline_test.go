package oneline

import (
	"errors"
	"testing"
)

func TestError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, "no error"},
		{errors.New("plain"), "plain"},
		{errors.New("  dial tcp:\n\tconnection   refused \n"), "dial tcp: connection refused"},
		{errors.New("\n"), ""},
	} {
		if got := Error(tc.err); got != tc.want {
			t.Errorf("Error(%q) = %q, want %q", tc.err, got, tc.want)
		}
	}
	if got := String("Got fatal error 1236\nfrom master"); got != "Got fatal error 1236 from master" {
		t.Errorf("String = %q", got)
	}
}
