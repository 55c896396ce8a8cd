package mariadbd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Effective is mariadbd's configuration as mariadbd itself resolves it:
// its option files (with the same --defaults-file, --defaults-extra-file,
// --defaults-group-suffix or --no-defaults), then its command line, then
// its compiled-in defaults. It is the truth the sentinel follows: where
// the data is, where the server listens, and whether the configuration
// already names the cluster.
type Effective struct {
	DataDir string
	// DataDirSet: an option file or the command line names the data
	// directory (otherwise DataDir is the compiled-in default).
	DataDirSet bool
	Socket     string
	Port       int
	// BindAddress is empty when mariadbd listens on every address.
	BindAddress string
	// User is the operating-system user mariadbd drops to when started as
	// root (user= in [mysqld]); empty when none is set.
	User string

	WsrepOn             bool
	ClusterAddress      string // wsrep_cluster_address
	NodeAddress         string // wsrep_node_address
	NodeIncomingAddress string // wsrep_node_incoming_address; "AUTO" when derived
	SSTReceiveAddress   string // wsrep_sst_receive_address; "AUTO" when derived
	SSTMethod           string
	Provider            string // wsrep_provider: Galera's library
	ProviderOptions     string
	LogError            string
}

// HasClusterAddress reports whether the configuration names cluster
// members. "gcomm://" alone names none: it bootstraps a new cluster on
// every start, which only the sentinel's decision may do.
func (e Effective) HasClusterAddress() bool {
	return strings.TrimSpace(strings.TrimPrefix(e.ClusterAddress, "gcomm://")) != ""
}

// defaultsOptions are the options that choose the option files. mariadbd
// honours them only before any other argument.
var defaultsOptions = []string{"--no-defaults", "--defaults-file=", "--defaults-extra-file=", "--defaults-group-suffix="}

// SplitDefaults splits mariadbd's arguments into the leading options that
// choose its option files and the rest.
func SplitDefaults(args []string) (defaults, rest []string) {
	i := 0
	for ; i < len(args); i++ {
		known := false
		for _, o := range defaultsOptions {
			if args[i] == o || (strings.HasSuffix(o, "=") && strings.HasPrefix(args[i], o)) {
				known = true
			}
		}
		if !known {
			break
		}
	}
	return args[:i], args[i:]
}

// ReadEffective resolves the configuration of mariadbd started as command
// (mariadbd and its arguments). It asks mariadbd itself: `mariadbd ARGS
// --verbose --help` prints every variable as the server would set it,
// after its files and command line; the user it drops to, which is no
// variable, comes from my_print_defaults with the same option files.
// Every call is bounded by ctx.
func ReadEffective(ctx context.Context, command []string) (Effective, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	args := command[1:]
	cmd := exec.CommandContext(ctx, command[0], append(append([]string{}, args...), "--verbose", "--help")...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	vars, err := ParseHelpVariables(stdout.Bytes())
	// Exit status 2 and above is my_getopt refusing an option (unknown,
	// ambiguous, missing or invalid argument): the table it may still
	// print is not what the server would run with. Status 1 is a check
	// after option handling, such as an SST method that wants a cluster
	// address the sentinel has yet to add.
	var exit *exec.ExitError
	if err == nil && errors.As(runErr, &exit) && exit.ExitCode() >= 2 {
		err = runErr
	}
	if err == nil && runErr != nil && !errors.As(runErr, &exit) {
		err = runErr // it did not run at all
	}
	if err != nil {
		// mariadbd refused its configuration before printing it (an
		// unknown option, an unreadable file): its own words say why.
		return Effective{}, fmt.Errorf("read mariadbd's configuration (%s --verbose --help): %v: %s",
			strings.Join(command, " "), runErr, lastLines(stderr.String(), 3))
	}
	e := FromVariables(vars)
	defaults, rest := SplitDefaults(args)
	pd := exec.CommandContext(ctx, "my_print_defaults", append(append([]string{}, defaults...), "--mysqld")...)
	out, err := pd.Output()
	if err != nil {
		return Effective{}, fmt.Errorf("read mariadbd's option files (my_print_defaults %s --mysqld): %w", strings.Join(defaults, " "), err)
	}
	opts := append(strings.Split(string(out), "\n"), rest...)
	e.User = LastOption(opts, "user")
	e.DataDirSet = LastOption(opts, "datadir") != ""
	return e, nil
}

// ResolveDataDir decides the data directory from the sentinel's --datadir
// (empty when not given) and mariadbd's configuration. pass is whether
// mariadbd must be told it: only when the operator chose it with the flag
// and the configuration names none. A flag that names another directory
// than the configuration is refused: the position would be read from one
// directory while mariadbd uses another.
func (e Effective) ResolveDataDir(flag string) (dir string, pass bool, err error) {
	switch {
	case flag == "":
		return e.DataDir, false, nil
	case e.DataDirSet && filepath.Clean(flag) != e.DataDir:
		return "", false, Contradiction("--datadir", flag, "datadir", e.DataDir)
	case e.DataDirSet:
		return e.DataDir, false, nil
	default:
		return filepath.Clean(flag), true, nil
	}
}

// ParseHelpVariables reads the table of variables that `mariadbd
// --verbose --help` ends with: a name, spaces, the value.
func ParseHelpVariables(out []byte) (map[string]string, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	vars := map[string]string{}
	inTable := false
	for sc.Scan() {
		line := sc.Text()
		if !inTable {
			inTable = strings.HasPrefix(line, "-----") && strings.Contains(line, " -----")
			continue
		}
		name, value, _ := strings.Cut(line, " ")
		if name == "" {
			break // the table ends with a blank line
		}
		value = strings.TrimSpace(value)
		if value == "(No default value)" {
			value = ""
		}
		vars[name] = value
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !inTable || len(vars) == 0 {
		return nil, errors.New("no variables in mariadbd's --help output")
	}
	if _, ok := vars["datadir"]; !ok {
		return nil, errors.New("mariadbd's --help output has no datadir")
	}
	return vars, nil
}

// FromVariables picks what the sentinel needs from mariadbd's variables.
func FromVariables(v map[string]string) Effective {
	e := Effective{
		Socket: v["socket"], BindAddress: v["bind-address"],
		ClusterAddress: v["wsrep-cluster-address"], NodeAddress: v["wsrep-node-address"],
		NodeIncomingAddress: v["wsrep-node-incoming-address"], SSTReceiveAddress: v["wsrep-sst-receive-address"],
		SSTMethod: v["wsrep-sst-method"], Provider: v["wsrep-provider"], ProviderOptions: v["wsrep-provider-options"], LogError: v["log-error"],
	}
	if d := v["datadir"]; d != "" {
		e.DataDir = filepath.Clean(d)
	}
	e.Port, _ = strconv.Atoi(v["port"])
	switch strings.ToUpper(v["wsrep-on"]) {
	case "TRUE", "ON", "1":
		e.WsrepOn = true
	}
	return e
}

// LastOption is the value of the last --name=value among args, the way
// option files and command lines override each other (dashes and
// underscores alike, a loose- prefix ignored); empty when none.
func LastOption(args []string, name string) string {
	var v string
	for _, a := range args {
		a = strings.TrimSpace(a)
		opt, value, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !ok || !strings.HasPrefix(a, "--") {
			continue
		}
		opt = strings.TrimPrefix(strings.ReplaceAll(opt, "_", "-"), "loose-")
		if opt == name {
			v = value
		}
	}
	return v
}

// Contradiction is the error for a sentinel flag that says otherwise than
// mariadbd's own configuration: following either would be a guess.
func Contradiction(flag, flagValue, option, effective string) error {
	return fmt.Errorf("%s=%s, but mariadbd's configuration says %s=%s: remove the flag or make them agree", flag, flagValue, option, effective)
}

// lastLines is the end of mariadbd's complaint, on one line, with the
// value of anything that looks like a password masked: mariadbd repeats
// an option it rejects, secret or not.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return secretValue.ReplaceAllString(strings.Join(lines, " | "), "${1}***")
}

var secretValue = regexp.MustCompile(`(?i)((?:password|passwd|secret|token)[a-z0-9_-]*=)[^'"\s|]*`)
