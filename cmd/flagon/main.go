// Command flagon is Flagon's one binary: the server, and the tools around
// it.
//
//	flagon serve            admin UI, REST API, OFREP, /healthz, /metrics and a demo
//	flagon import FILE      load a YAML/JSON config file into a store
//	flagon export           write a store's flags as a YAML config file
//	flagon eval FLAG k=v …  evaluate one flag for a context and explain the result
//	flagon lint [DIR …]     report flags used but undefined, unused, or expired
//	flagon migrate          apply the store's schema migrations
//	flagon version          print the version
//
// Every setting is a command-line flag with a FLAGON_* environment variable
// as its default; run `flagon <command> -h` for the list.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"serve", "run the Flagon server: admin UI, REST API, OFREP, health, metrics and a demo page", runServe},
	{"import", "load a YAML or JSON config file into a store", runImport},
	{"export", "write a store's flags as a YAML config file", runExport},
	{"eval", "evaluate a flag for a context and explain the result", runEval},
	{"lint", "report flags used in code but not defined, defined but unused, or expired", runLint},
	{"migrate", "apply the store's schema migrations", runMigrate},
	{"version", "print the version", runVersion},
}

// errUsage marks an error in the command line: exit status 2.
var errUsage = errors.New("usage")

// errFindings marks a command that ran and found problems: exit status 1,
// with nothing more to print.
var errFindings = errors.New("findings")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line args and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errFindings):
			return 1
		case errors.Is(err, errUsage):
			fmt.Fprintf(stderr, "flagon %s: %v\n", c.name, err)
			return 2
		default:
			fmt.Fprintf(stderr, "flagon %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "flagon: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Flagon: feature flags for Go web applications.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: flagon <command> [flags] [arguments]")
	fmt.Fprintln(w)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'flagon <command> -h' for a command's flags; each defaults to a FLAGON_* environment variable.")
}

// flagSet returns a FlagSet for a command whose errors and usage go to
// stderr.
func flagSet(name, argsUsage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("flagon "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: flagon %s [flags] %s\n\nFlags (each defaults to the environment variable shown):\n", name, argsUsage)
		fs.PrintDefaults()
	}
	return fs
}

// env returns the environment variable FLAGON_<name>, or def.
func env(name, def string) string {
	if v, ok := os.LookupEnv("FLAGON_" + name); ok {
		return v
	}
	return def
}

// envHelp appends the environment variable to a flag's help text.
func envHelp(name, help string) string {
	return help + " (FLAGON_" + name + ")"
}

// parse parses args, reporting a bad command line as errUsage.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("version", "", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "flagon", version())
	return nil
}

// version returns the module version and VCS revision the binary was built
// from, as far as the build recorded them.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	var extra []string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if len(s.Value) > 12 {
				s.Value = s.Value[:12]
			}
			extra = append(extra, s.Value)
		case "vcs.modified":
			if s.Value == "true" {
				extra = append(extra, "modified")
			}
		}
	}
	sort.Strings(extra)
	out := v + " " + bi.GoVersion
	if len(extra) > 0 {
		out += " (" + strings.Join(extra, ", ") + ")"
	}
	return out
}
