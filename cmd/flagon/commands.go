package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/file"
	"github.com/flagon/flagon/lint"
	"github.com/flagon/flagon/server"
)

// DefaultStore is where flagon keeps its flags when told nothing else: an
// embedded SQLite database in the working directory.
const DefaultStore = "sqlite://flagon.db"

// storeFlags are the flags that choose where definitions come from.
type storeFlags struct {
	store  string
	config string
	env    string
}

func (s *storeFlags) register(fs interface {
	StringVar(*string, string, string, string)
}, withConfig bool) {
	fs.StringVar(&s.store, "store", env("STORE", DefaultStore), envHelp("STORE", "the store: sqlite://PATH or postgres://…"))
	if withConfig {
		fs.StringVar(&s.config, "config", env("CONFIG", ""), envHelp("CONFIG", "read flags from this YAML/JSON file instead of the store"))
	}
	fs.StringVar(&s.env, "env", env("ENV", ""), envHelp("ENV", "the environment whose settings apply (development, staging, production, …)"))
}

// definitions loads the definitions from the config file if one is named,
// else from the store.
func (s *storeFlags) definitions(ctx context.Context) (flagon.Definitions, error) {
	if s.config != "" {
		data, err := os.ReadFile(s.config)
		if err != nil {
			return flagon.Definitions{}, err
		}
		return file.Parse(s.config, data)
	}
	st, err := server.OpenStore(ctx, s.store)
	if err != nil {
		return flagon.Definitions{}, err
	}
	defer st.Close()
	defs, _, err := st.Load(ctx)
	return defs, err
}

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("import", "FILE", stderr)
	var sf storeFlags
	sf.register(fs, false)
	actor := fs.String("actor", env("ACTOR", "cli"), envHelp("ACTOR", "who the audit log records"))
	reason := fs.String("reason", "", "why, for the audit log")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: want one file to import", errUsage)
	}
	data, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	defs, err := file.Parse(fs.Arg(0), data)
	if err != nil {
		return err
	}
	st, err := server.OpenStore(ctx, sf.store)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := server.Import(ctx, st, defs, flagon.Change{Actor: *actor, Reason: *reason, Environment: sf.env})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %d audiences and %d flags from %s (%d changed)\n", len(defs.Audiences), len(defs.Flags), fs.Arg(0), n)
	return nil
}

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("export", "", stderr)
	var sf storeFlags
	sf.register(fs, false)
	out := fs.String("o", "", "write to this file instead of standard output")
	if err := parse(fs, args); err != nil {
		return err
	}
	defs, err := sf.definitions(ctx)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := file.Encode(&buf, defs); err != nil {
		return err
	}
	if *out == "" {
		_, err = stdout.Write(buf.Bytes())
		return err
	}
	return os.WriteFile(*out, buf.Bytes(), 0o644)
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("migrate", "", stderr)
	var sf storeFlags
	sf.register(fs, false)
	if err := parse(fs, args); err != nil {
		return err
	}
	st, err := server.OpenStore(ctx, sf.store)
	if err != nil {
		return err
	}
	defer st.Close()
	rev, err := st.Revision(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: schema up to date, revision %d\n", server.Redact(sf.store), rev)
	return nil
}

func runLint(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("lint", "[DIR …]", stderr)
	var sf storeFlags
	sf.register(fs, true)
	if err := parse(fs, args); err != nil {
		return err
	}
	dirs := fs.Args()
	if len(dirs) == 0 {
		dirs = []string{"."}
	}
	defs, err := sf.definitions(ctx)
	if err != nil {
		return err
	}
	refs, err := lint.Scan(nil, dirs...)
	if err != nil {
		return err
	}
	findings := lint.Check(defs, refs, time.Now())
	for _, f := range findings {
		fmt.Fprintln(stdout, f)
	}
	if len(findings) > 0 {
		fmt.Fprintf(stderr, "flagon lint: %d findings in %d references to %d defined flags\n", len(findings), len(refs), len(defs.Flags))
		return errFindings
	}
	fmt.Fprintf(stdout, "flagon lint: %d references, %d flags, no findings\n", len(refs), len(defs.Flags))
	return nil
}

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("eval", "FLAG [key=VALUE] [attr=VALUE …]", stderr)
	var sf storeFlags
	sf.register(fs, true)
	user := fs.String("user", "", "also apply this user's stored overrides")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 1 {
		return fmt.Errorf("%w: name the flag to evaluate", errUsage)
	}
	key := fs.Arg(0)
	ec, err := parseContext(fs.Args()[1:])
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	defs, err := sf.definitions(ctx)
	if err != nil {
		return err
	}
	snap, err := flagon.NewSnapshot(defs, flagon.SnapshotOptions{Environment: sf.env})
	if err != nil {
		return err
	}
	var ov flagon.Overrides
	if *user != "" {
		st, err := server.OpenStore(ctx, sf.store)
		if err != nil {
			return err
		}
		defer st.Close()
		m, err := st.UserOverrides(ctx, *user)
		if err != nil {
			return err
		}
		ov = m
	}
	r := snap.Evaluate(key, ec, ov)
	explain(stdout, snap, r, ec)
	if r.ErrorCode == flagon.ErrorFlagNotFound {
		return fmt.Errorf("flag %q: %w", key, flagon.ErrFlagNotFound)
	}
	return nil
}

// parseContext reads key=value pairs into an EvalContext: "key" is the
// targeting key, and values that read as booleans or numbers become those.
func parseContext(args []string) (flagon.EvalContext, error) {
	ec := flagon.EvalContext{Attrs: map[string]any{}}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return ec, fmt.Errorf("context argument %q: want name=value", a)
		}
		if k == flagon.KeyAttribute || k == "targetingKey" {
			ec.Key = v
			continue
		}
		switch {
		case v == "true" || v == "false":
			ec.Attrs[k] = v == "true"
		default:
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				ec.Attrs[k] = n
			} else if f, err := strconv.ParseFloat(v, 64); err == nil {
				ec.Attrs[k] = f
			} else {
				ec.Attrs[k] = v
			}
		}
	}
	return ec, nil
}

// explain prints a result: value, variant, the layer that decided, the
// rule, the reason, and the context it was evaluated for.
func explain(w io.Writer, snap *flagon.Snapshot, r flagon.Result, ec flagon.EvalContext) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	fmt.Fprintf(tw, "flag\t%s\n", r.Key)
	if r.ErrorCode == flagon.ErrorFlagNotFound {
		fmt.Fprintf(tw, "error\t%s: no such flag in revision %s\n", r.ErrorCode, snap.Revision())
		return
	}
	fmt.Fprintf(tw, "value\t%v\n", r.Value)
	fmt.Fprintf(tw, "variant\t%s\n", r.Variant)
	fmt.Fprintf(tw, "reason\t%s\n", r.Reason)
	fmt.Fprintf(tw, "layer\t%s\n", layer(r))
	if r.Rule > 0 {
		f, _ := snap.Flag(r.Key)
		desc := ""
		if r.Rule <= len(f.Rules) {
			desc = describeRule(f.Rules[r.Rule-1])
		}
		fmt.Fprintf(tw, "rule\t%d %s\n", r.Rule, desc)
	}
	if r.ErrorCode != "" {
		fmt.Fprintf(tw, "error\t%s\n", r.ErrorCode)
	}
	fmt.Fprintf(tw, "revision\t%s\n", r.Revision)
	if env := snap.Environment(); env != "" {
		fmt.Fprintf(tw, "environment\t%s\n", env)
	}
	keys := make([]string, 0, len(ec.Attrs))
	for k := range ec.Attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ctx := []string{"key=" + ec.Key}
	for _, k := range keys {
		ctx = append(ctx, fmt.Sprintf("%s=%v", k, ec.Attrs[k]))
	}
	fmt.Fprintf(tw, "context\t%s\n", strings.Join(ctx, " "))
}

// layer names the part of evaluation that decided a result.
func layer(r flagon.Result) string {
	switch r.Reason {
	case flagon.ReasonOverride:
		return "override (" + r.OverrideSource + ")"
	case flagon.ReasonDisabled:
		return "kill switch"
	case flagon.ReasonTargetingMatch:
		return "rule"
	case flagon.ReasonSplit:
		if r.Rule > 0 {
			return "rule, percentage split"
		}
		return "fallthrough, percentage split"
	case flagon.ReasonStatic:
		return "flag default (no rules)"
	case flagon.ReasonDefault:
		return "fallthrough (no rule matched)"
	}
	return "error"
}

func describeRule(r flagon.Rule) string {
	var parts []string
	if r.ID != "" {
		parts = append(parts, "("+r.ID+")")
	}
	for _, a := range r.Audiences {
		parts = append(parts, "audience "+a)
	}
	for _, c := range r.Clauses {
		parts = append(parts, c.String())
	}
	return strings.Join(parts, " and ")
}
