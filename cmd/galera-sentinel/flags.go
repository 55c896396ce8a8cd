package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"slices"
	"strings"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
	"github.com/galera-sentinel/galera-sentinel/internal/sentinel"
)

// The generic machinery of every subcommand's configuration: flag sets,
// the environment, secrets, the logger. What a subcommand's flags are and
// mean lives in its own *_config.go or command file.

// envPrefix: every flag --foo-bar can also be set as GALERA_SENTINEL_FOO_BAR.
const envPrefix = sentinel.EnvPrefix

// passwordEnv is the one way besides --mysql-password-file to pass the
// password. There is deliberately no --mysql-password flag: argv is
// visible to every user of the machine in ps.
const passwordEnv = envPrefix + "MYSQL_PASSWORD"

// tokenEnv is the other way, besides --token-file, to pass the peer token.
const tokenEnv = envPrefix + "TOKEN"

// envName is the environment variable of a flag.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// machine is what a configuration reads of the machine besides its flags
// and getenv: injected, so that a test says what it answers.
type machine struct {
	hostname  func() (string, error)
	lookupEnv func(string) (string, bool) // mariadb-install-db's and the initdb scripts' environment
	user      func() (*user.User, error)
}

// thisMachine is the process's own.
var thisMachine = machine{hostname: os.Hostname, lookupEnv: os.LookupEnv, user: user.Current}

// host is the host name, "" when unknown.
func (m machine) host() string {
	h, _ := m.hostname()
	return h
}

// newFlagSet is a subcommand's flag set, with its usage text.
func newFlagSet(name, synopsis, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: galera-sentinel %s\n\n%s\nEvery flag can also be set as %s<FLAG> (e.g. %sTIMEOUT for --timeout).\n\n", synopsis, about, envPrefix, envPrefix)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags applies the environment, then argv (which wins). Mistakes
// people make often get a hint.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := applyEnv(fs, getenv); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		if hint := flagHint(fs, args); hint != "" {
			return fmt.Errorf("%w: %w (%s)", errUsage, err, hint)
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	return nil
}

// parseNoArgs is parseFlags for a subcommand that takes flags only.
func parseNoArgs(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: %s takes no arguments, got %q", errUsage, fs.Name(), fs.Args())
	}
	return nil
}

// usageError marks a Validate error as a usage error (exit 2); nil stays nil.
func usageError(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", errUsage, err)
}

// explicitFlags are the flags the operator set, on the command line or
// by their environment variable, as opposed to defaults; each maps to its
// environment variable when that is set, else "" (argv alone). Call after
// parseFlags.
func explicitFlags(fs *flag.FlagSet, getenv func(string) string) map[string]string {
	set := map[string]string{}
	fs.Visit(func(f *flag.Flag) {
		set[f.Name] = ""
		if env := envName(f.Name); getenv(env) != "" {
			set[f.Name] = env
		}
	})
	return set
}

// spelled is how a message names an explicitly set flag: with its
// environment variable when that is where it came from.
func spelled(name, env string) string {
	if env != "" {
		return "--" + name + " (set by " + env + ")"
	}
	return "--" + name
}

// sortedKeys are m's keys in order, for messages that do not move.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// secretFlags are flags people look for that deliberately do not exist:
// a secret on the command line is visible to every user in ps.
var secretFlags = map[string]string{
	"mysql-password": "the password comes from --mysql-password-file or " + passwordEnv + ", never the command line",
	"password":       "the password comes from --mysql-password-file or " + passwordEnv + ", never the command line",
	"token":          "the token comes from --token-file or " + tokenEnv + ", never the command line",
}

// flagHint explains the first argument that the flag set refused, when
// it is a known mistake.
func flagHint(fs *flag.FlagSet, args []string) string {
	for _, a := range args {
		if a == "--" {
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") {
			continue
		}
		if hint, ok := secretFlags[name]; ok && fs.Lookup(name) == nil {
			return hint
		}
		f := fs.Lookup(name)
		if f == nil || !hasValue {
			continue
		}
		if hint := durationHint(f, value); hint != "" {
			return hint
		}
	}
	return ""
}

// durationHint suggests a unit for a bare number given to a duration flag.
func durationHint(f *flag.Flag, value string) string {
	if g, ok := f.Value.(flag.Getter); ok && value != "" && strings.Trim(value, "0123456789.") == "" {
		if _, isDuration := g.Get().(time.Duration); isDuration {
			return fmt.Sprintf("a duration needs a unit: %ss or %sms", value, value)
		}
	}
	return ""
}

// applyEnv sets each flag from GALERA_SENTINEL_<NAME> when that is set;
// flags on the command line, parsed afterwards, win.
func applyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		name := envName(f.Name)
		if v := getenv(name); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				if hint := durationHint(f, v); hint != "" {
					err = fmt.Errorf("%w (%s)", err, hint)
				}
				errs = append(errs, fmt.Errorf("%s=%q: %w", name, v, err))
			}
		}
	})
	return errors.Join(errs...)
}

// readSecret reads a secret from a file or the environment, never both.
var readSecret = sentinel.ReadSecret

// readTokens reads the API tokens: --token-file (one per line, followed
// when the file changes) or the environment (separated by commas or line
// breaks). Neither: nil.
func readTokens(file string, getenv func(string) string) (*httpserver.Tokens, error) {
	v := getenv(tokenEnv)
	if file != "" && v != "" {
		return nil, fmt.Errorf("%w: both --token-file and %s are set; use one", errUsage, tokenEnv)
	}
	if file != "" {
		t, err := httpserver.LoadTokens(file, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: --token-file: %w", errUsage, err)
		}
		return t, nil
	}
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	toks, err := httpserver.ParseTokens(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errUsage, tokenEnv, err)
	}
	return httpserver.StaticTokens(toks...), nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level=%q: want debug, info, warn or error", s)
	}
	return l, nil
}

func newLogger(format, level string, w io.Writer) *slog.Logger {
	l, _ := parseLevel(level)
	opts := &slog.HandlerOptions{Level: l}
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok && isTerminal(f) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// positive and notNegative check a duration flag.
var (
	positive    = sentinel.Positive
	notNegative = sentinel.NotNegative
)
