package demo

import "testing"

// TestRoutes: the demo prints the way in only once HAProxy routes to
// every ready member and has a writer UP (it marks a member UP two checks
// after its /readyz says 200; a client in between found no server).
func TestRoutes(t *testing.T) {
	d := &demo{members: []*demoMember{{name: "node1"}, {name: "node2"}, {name: "node3"}}}
	for _, c := range []struct {
		name  string
		hap   map[string]string
		ready int
		want  bool
	}{
		{"every ready member UP, a writer", map[string]string{"readers/node1": "UP", "readers/node2": "UP", "readers/node3": "UP", "writer/node1": "UP", "writer/node2": "DOWN", "writer/node3": "DOWN"}, 3, true},
		{"ready, HAProxy still counting its rises", map[string]string{"readers/node1": "UP", "readers/node2": "DOWN 1/2", "readers/node3": "DOWN 1/2", "writer/node1": "UP"}, 3, false},
		{"after a state transfer: the donor not UP again yet", map[string]string{"readers/node1": "DOWN", "readers/node2": "DOWN 1/2", "readers/node3": "DOWN 1/2", "writer/node1": "DOWN"}, 3, false},
		{"no writer UP", map[string]string{"readers/node1": "UP", "readers/node2": "UP", "readers/node3": "UP", "writer/node1": "DOWN"}, 3, false},
		{"HAProxy not answering", map[string]string{}, 3, false},
		{"nothing ready", map[string]string{"readers/node1": "UP", "writer/node1": "UP"}, 0, false},
	} {
		if got := d.routes(c.hap, c.ready); got != c.want {
			t.Errorf("%s: routes %v, want %v", c.name, got, c.want)
		}
	}
}
