package serve

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testsentinel"
)

func TestMain(m *testing.M) { testsentinel.Main(m) }

// serveConfig is what these tests set of `serve`: each field is one flag.
type serveConfig struct {
	MySQLAddr, MySQLUser, MySQLPassword string
	Listen                              string // host:0 takes a free port
	PollInterval, Timeout, ConnectLimit time.Duration
	MaxStaleness, LivenessGrace         time.Duration
	MaintenanceFile                     string
}

// testServeConfig is a config with short intervals so that the fault tests
// run in seconds. The bounds the tests check scale with these values.
func testServeConfig(addr string) *serveConfig {
	return &serveConfig{
		MySQLAddr: addr, MySQLUser: monitorUser, MySQLPassword: monitorPassword,
		Listen: "127.0.0.1:0", PollInterval: 500 * time.Millisecond, Timeout: time.Second,
		ConnectLimit: time.Minute, MaxStaleness: 2 * time.Second, LivenessGrace: 30 * time.Second,
	}
}

// sentinels are the processes startSentinel started, by base URL.
var sentinels sync.Map

// startSentinel runs `galera-sentinel serve` with cfg until the test ends
// and returns its base URL. The password goes by the environment, never
// argv.
func startSentinel(t *testing.T, cfg *serveConfig) string {
	t.Helper()
	listen := cfg.Listen
	if strings.HasSuffix(listen, ":0") {
		listen = testsentinel.FreePort(t)
	}
	args := []string{"serve", "--listen=" + listen, "--mysql-addr=" + cfg.MySQLAddr, "--mysql-user=" + cfg.MySQLUser,
		"--poll-interval=" + cfg.PollInterval.String(), "--timeout=" + cfg.Timeout.String(),
		"--connect-limit=" + cfg.ConnectLimit.String(), "--max-staleness=" + cfg.MaxStaleness.String(),
		"--liveness-grace=" + cfg.LivenessGrace.String(), "--log-format=text", "--log-level=info"}
	if cfg.MaintenanceFile != "" {
		args = append(args, "--maintenance-file="+cfg.MaintenanceFile)
	}
	name := strings.NewReplacer(":", "-", "/", "-").Replace(cfg.MySQLAddr)
	s := testsentinel.Start(t, name, listen, args, []string{"GALERA_SENTINEL_MYSQL_PASSWORD=" + cfg.MySQLPassword})
	sentinels.Store(s.Base, s)
	t.Cleanup(func() {
		sentinels.Delete(s.Base)
		// A clean stop, as the in-process serve returned nil on cancel.
		s.Stop()
		if code := s.ExitCode(); code != 0 {
			t.Errorf("%s: serve exited %d on SIGTERM", name, code)
		}
	})
	return s.Base
}

// pidOf is the process id of the sentinel at base.
func pidOf(t *testing.T, base string) int {
	t.Helper()
	s, ok := sentinels.Load(base)
	if !ok {
		t.Fatalf("no sentinel at %s", base)
	}
	return s.(*testsentinel.Sentinel).Pid()
}
