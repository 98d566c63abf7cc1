package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/file"
	"github.com/flagon/flagon/server"
	"golang.org/x/crypto/bcrypt"
)

// cli runs the command line and returns its exit status and output.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestHelpAndUsage checks the ways people ask for help and the version,
// and what a bad command line gets: help asked for goes to stdout with
// exit 0, usage after an error to stderr with exit 2.
func TestHelpAndUsage(t *testing.T) {
	tests := []struct {
		args       []string
		code       int
		stdout     string // wanted in stdout; "" means stdout must be empty
		stderr     string // wanted in stderr; "" means stderr must be empty
		stderrOnce string // must appear exactly once in stderr
	}{
		{[]string{"version"}, 0, "flagon ", "", ""},
		{[]string{"-version"}, 0, "flagon ", "", ""},
		{[]string{"--version"}, 0, "flagon ", "", ""},
		{[]string{"help"}, 0, "Usage: flagon <command>", "", ""},
		{[]string{"-h"}, 0, "Usage: flagon <command>", "", ""},
		{[]string{"-help"}, 0, "Usage: flagon <command>", "", ""},
		{[]string{"--help"}, 0, "Usage: flagon <command>", "", ""},
		{[]string{"help", "serve"}, 0, "Usage: flagon serve [flags]\n", "", ""},
		{[]string{"--help", "lint"}, 0, "-exclude", "", ""},
		{[]string{"eval", "-h"}, 0, "Usage: flagon eval [flags] FLAG", "", ""},
		{[]string{"eval", "new-home-page", "key=a", "--help"}, 0, "-config", "", ""},
		{[]string{"import", "-help"}, 0, "Usage: flagon import", "", ""},
		{nil, 2, "", "Usage: flagon <command>", ""},
		{[]string{"frobnicate"}, 2, "", "Usage: flagon <command>", `flagon: unknown command "frobnicate"`},
		{[]string{"help", "frobnicate"}, 2, "", "Usage: flagon <command>", `flagon help: unknown command "frobnicate"`},
		{[]string{"help", "eval", "lint"}, 2, "", "Usage: flagon <command>", "want at most one command"},
		{[]string{"eval", "-nope"}, 2, "", "Usage: flagon eval [flags] FLAG", "flag provided but not defined: -nope"},
		{[]string{"eval"}, 2, "", "Usage: flagon eval [flags] FLAG", "flagon eval: name the flag to evaluate\n"},
		{[]string{"import"}, 2, "", "Usage: flagon import", "flagon import: want one file to import"},
		{[]string{"export", "extra"}, 2, "", "Usage: flagon export", `flagon export: unexpected arguments ["extra"]`},
		{[]string{"lint", "-date", "soon"}, 2, "", "Usage: flagon lint", `flagon lint: -date: want YYYY-MM-DD, got "soon"`},
	}
	for _, tt := range tests {
		code, stdout, stderr := cli(t, tt.args...)
		if code != tt.code {
			t.Errorf("%q: exit %d, want %d (stderr %q)", tt.args, code, tt.code, stderr)
		}
		if (tt.stdout == "") != (stdout == "") || !strings.Contains(stdout, tt.stdout) {
			t.Errorf("%q: stdout %q, want %q", tt.args, stdout, tt.stdout)
		}
		if (tt.stderr == "") != (stderr == "") || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("%q: stderr %q, want %q", tt.args, stderr, tt.stderr)
		}
		if tt.stderrOnce != "" && strings.Count(stderr, tt.stderrOnce) != 1 {
			t.Errorf("%q: stderr has %q %d times, want once:\n%s", tt.args, tt.stderrOnce, strings.Count(stderr, tt.stderrOnce), stderr)
		}
		if strings.Contains(stdout, "usage: ") || strings.Contains(stderr, ": usage: ") {
			t.Errorf("%q: the usage error's marker leaked into the message:\n%s%s", tt.args, stdout, stderr)
		}
	}
}

// TestErrorPrefixOnce checks that each command names itself once at the
// start of an error, even when the error comes from the package of the
// same name.
func TestErrorPrefixOnce(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "x.db")
	missing := filepath.Join(dir, "missing.yaml")
	tests := []struct {
		cmd  string
		args []string
		want string // in the message, after the prefix
	}{
		{"lint", []string{"-config", "testdata/flags.yaml", filepath.Join(dir, "nodir")}, "lstat " + filepath.Join(dir, "nodir")},
		{"lint", []string{"-exclude", "[x", "-config", "testdata/flags.yaml", "testdata/app"}, `exclude pattern "[x"`},
		{"lint", []string{"-config", missing, "testdata/app"}, "open " + missing},
		{"import", []string{"-store", db, missing}, "open " + missing},
		{"import", []string{"-store", "mysql://x", "testdata/flags.yaml"}, "unknown scheme"},
		{"export", []string{"-store", db}, "no store at"},
		{"eval", []string{"-config", missing, "x"}, missing},
		{"eval", []string{"-config", "testdata/flags.yaml", "ghost"}, `flag not found: "ghost"`},
	}
	for _, tt := range tests {
		code, _, stderr := cli(t, append([]string{tt.cmd}, tt.args...)...)
		prefix := "flagon " + tt.cmd + ": "
		if code != 1 || !strings.HasPrefix(stderr, prefix) || !strings.Contains(stderr, tt.want) {
			t.Errorf("%s %q: exit %d, stderr %q; want exit 1 and %q…%q", tt.cmd, tt.args, code, stderr, prefix, tt.want)
		}
		if n := strings.Count(stderr, tt.cmd+": "); n != 1 {
			t.Errorf("%s %q: %q appears %d times in %q, want once", tt.cmd, tt.args, tt.cmd+": ", n, stderr)
		}
	}
}

// TestFlagsAfterArguments checks that flags may follow a command's
// arguments, and that "--" ends the flags.
func TestFlagsAfterArguments(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "x.db")
	tests := []struct {
		args []string
		code int
		want string // in stdout, spaces collapsed
	}{
		{[]string{"eval", "-config", "testdata/flags.yaml", "new-home-page", "key=a", "is_staff=true"}, 0, "reason TARGETING_MATCH"},
		{[]string{"eval", "new-home-page", "key=a", "is_staff=true", "-config", "testdata/flags.yaml"}, 0, "reason TARGETING_MATCH"},
		{[]string{"eval", "new-home-page", "-config", "testdata/flags.yaml", "key=a", "-env", "production", "is_staff=true"}, 0, "environment production"},
		{[]string{"eval", "-config", "testdata/flags.yaml", "new-home-page", "--", "key=a", "-env"}, 2, ""},
		{[]string{"import", "testdata/flags.yaml", "-store", db, "-reason", "test"}, 0, "imported 1 audiences and 3 flags"},
		{[]string{"export", "-o", filepath.Join(dir, "out.yaml"), "-store", db}, 0, ""},
		{[]string{"lint", "testdata/app", "-config", "testdata/flags.yaml"}, 1, `flag "typo-service" is used but not defined`},
	}
	for _, tt := range tests {
		code, stdout, stderr := cli(t, tt.args...)
		if code != tt.code {
			t.Errorf("%q: exit %d, want %d (stderr %q)", tt.args, code, tt.code, stderr)
		}
		if flat := strings.Join(strings.Fields(stdout), " "); !strings.Contains(flat, tt.want) {
			t.Errorf("%q: stdout lacks %q:\n%s", tt.args, tt.want, stdout)
		}
	}
	// After "--", "-env" is a context argument, and a malformed one.
	_, _, stderr := cli(t, "eval", "-config", "testdata/flags.yaml", "new-home-page", "--", "key=a", "-env")
	if !strings.Contains(stderr, `context argument "-env": want name=value`) {
		t.Errorf("after --: stderr %q", stderr)
	}
}

// TestImportExportRoundTrip imports a config file into a new SQLite store,
// exports it, imports the export into a second store and checks the two
// exports are identical.
func TestImportExportRoundTrip(t *testing.T) {
	dir := t.TempDir()
	db1 := "sqlite://" + filepath.Join(dir, "one.db")
	db2 := "sqlite://" + filepath.Join(dir, "two.db")
	for _, src := range []string{"testdata/flags.yaml", "../../file/testdata/complete.yaml"} {
		code, stdout, stderr := cli(t, "import", "-store", db1, "-reason", "test", src)
		if code != 0 {
			t.Fatalf("import %s: exit %d: %s", src, code, stderr)
		}
		if !strings.Contains(stdout, "imported") {
			t.Errorf("import output %q", stdout)
		}
	}
	out1 := filepath.Join(dir, "export1.yaml")
	if code, _, stderr := cli(t, "export", "-store", db1, "-o", out1); code != 0 {
		t.Fatalf("export: exit %d: %s", code, stderr)
	}
	if code, _, stderr := cli(t, "import", "-store", db2, out1); code != 0 {
		t.Fatalf("import export: exit %d: %s", code, stderr)
	}
	_, exp2, _ := cli(t, "export", "-store", db2)
	exp1, _ := os.ReadFile(out1)
	if string(exp1) != exp2 {
		t.Errorf("export is not stable across a round trip:\n--- first\n%s\n--- second\n%s", exp1, exp2)
	}
	for _, want := range []string{"new-home-page", "checkout", "environments:"} {
		if !strings.Contains(exp2, want) {
			t.Errorf("export lacks %q", want)
		}
	}
	// Importing the same file again changes nothing.
	_, stdout, _ := cli(t, "import", "-store", db2, out1)
	if !strings.Contains(stdout, "(0 changed)") {
		t.Errorf("re-import should change nothing; got %q", stdout)
	}
	if code, stdout, _ := cli(t, "migrate", "-store", db2); code != 0 || !strings.Contains(stdout, "schema up to date") {
		t.Errorf("migrate: exit %d, %q", code, stdout)
	}
}

func TestImportRejectsBrokenFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("flags:\n  a:\n    default: maybe\n    colour: blue\n"), 0o644)
	code, _, stderr := cli(t, "import", "-store", "sqlite://"+filepath.Join(dir, "x.db"), bad)
	if code != 1 || !strings.Contains(stderr, "bad.yaml:") {
		t.Errorf("broken file: exit %d, stderr %q; want exit 1 naming file and line", code, stderr)
	}
}

func TestEval(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"new-home-page", "key=u1", "is_staff=true"}, 0, []string{"value        true", "reason       TARGETING_MATCH", "layer        rule", "rule         1 audience staff"}},
		{[]string{"new-home-page", "key=user-6"}, 0, []string{"reason       SPLIT", "fallthrough, percentage split",
			"step rule 1 skipped: not in audience staff: is_staff == true does not hold: the context has no is_staff",
			fmt.Sprintf("step the fallthrough's percentage split by key: user-6 is in bucket %d of 100000", flagon.Bucket("new-home-page", "user-6"))}},
		{[]string{"new-home-page", "key=u1", `is_staff=false`, `name="007"`}, 0, []string{"is_staff == true does not hold: is_staff is false", "name=007"}},
		{[]string{"retired-flag"}, 0, []string{"reason       STATIC"}},
		{[]string{"ghost"}, 1, []string{"FLAG_NOT_FOUND"}},
		{[]string{"new-home-page", "broken"}, 2, nil},
	}
	for _, tt := range tests {
		args := append([]string{"eval", "-config", "testdata/flags.yaml"}, tt.args...)
		code, stdout, stderr := cli(t, args...)
		if code != tt.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", tt.args, code, tt.code, stderr)
		}
		flat := strings.Join(strings.Fields(stdout), " ")
		for _, w := range tt.want {
			if !strings.Contains(flat, strings.Join(strings.Fields(w), " ")) {
				t.Errorf("%v: output lacks %q:\n%s", tt.args, w, stdout)
			}
		}
	}
}

func TestLint(t *testing.T) {
	code, stdout, stderr := cli(t, "lint", "-config", "testdata/flags.yaml", "testdata/app")
	if code != 1 {
		t.Errorf("lint exit %d, want 1 (stderr %q)", code, stderr)
	}
	for _, want := range []string{
		`main.go:12: flag "typo-service" is used but not defined (undefined)`,
		`flag "use-new-email-service" expired on 2026-01-31; owner mail-team`,
		`flag "retired-flag" is defined but never used (unused)`,
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("lint output lacks %q:\n%s", want, stdout)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// serving is a `flagon serve` started by startServe.
type serving struct {
	base           string
	stdout, stderr *syncBuffer
	stop           func() int // SIGTERM, as it were; returns the exit status
}

// startServe runs `flagon serve` with args until the test ends (or stop),
// and returns once it prints its URL.
func startServe(t *testing.T, args ...string) *serving {
	t.Helper()
	return startCommand(t, "serve", args...)
}

// startCommand runs `flagon <name> -addr 127.0.0.1:0` with args, as
// startServe does.
func startCommand(t *testing.T, name string, args ...string) *serving {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &serving{stdout: new(syncBuffer), stderr: new(syncBuffer)}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{name, "-addr", "127.0.0.1:0"}, args...), s.stdout, s.stderr)
	}()
	stopped, code := false, 0
	s.stop = func() int {
		if stopped {
			return code
		}
		stopped = true
		cancel()
		select {
		case code = <-done:
		case <-time.After(15 * time.Second):
			t.Fatal(name + " did not shut down")
		}
		return code
	}
	t.Cleanup(func() { s.stop() })
	deadline := time.Now().Add(20 * time.Second)
	for s.base == "" {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not start:\n%s\n%s", name, s.stdout, s.stderr)
		}
		select {
		case code = <-done:
			stopped = true
			t.Fatalf("%s exited %d:\n%s", name, code, s.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if _, rest, ok := strings.Cut(s.stdout.String(), "serving "); ok {
			s.base, _, _ = strings.Cut(rest, " ")
		}
	}
	return s
}

func (s *serving) get(t *testing.T, path string, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", s.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *serving) ofrep(t *testing.T, key, ctx string) (int, string) {
	t.Helper()
	resp, err := http.Post(s.base+"/ofrep/v1/evaluate/flags/"+key, "application/json", strings.NewReader(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServe starts `flagon serve` on a new SQLite file with no other
// settings, as a team would deploy it first: no demo, the console behind
// sign-in, definitions behind a token, Host names limited to loopback
// while it listens there. Then it stops it as SIGTERM would and checks it
// shuts down cleanly.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, "-store", "sqlite://"+filepath.Join(dir, "flagon.db"))
	if code, body := s.get(t, "/"); code != 200 || strings.Contains(body, "home page") || !strings.Contains(body, "Sign in") {
		t.Errorf("/ without demo: %d; want the console's sign-in page, no demo:\n%s", code, body)
	}
	if code, body := s.get(t, "/healthz"); code != 200 || !strings.Contains(body, `"status": "ok"`) {
		t.Errorf("healthz: %d %s", code, body)
	}
	if code, body := s.ofrep(t, "new-home-page", `{"context":{"targetingKey":"ann","is_staff":true}}`); code != 404 {
		t.Errorf("OFREP for a demo flag without the demo: %d %s; want 404 (no demo flags)", code, body)
	}
	if code, body := s.get(t, "/api/v1/snapshot"); code != 401 {
		t.Errorf("snapshot without a token: %d %s; want 401", code, body)
	}
	if code, _ := s.get(t, "/demo/as"); code == 200 {
		t.Errorf("demo identities answer without the demo")
	}
	if code, body := s.get(t, "/admin/", "Host", "rebind.example.com"); code != http.StatusMisdirectedRequest {
		t.Errorf("a foreign Host on a loopback listener: %d %s; want 421", code, body)
	}
	if code, body := s.get(t, "/admin/"); code != 200 || strings.Contains(body, "new-home-page") {
		t.Errorf("admin without sign-in: %d; must show the sign-in page and no flag names", code)
	}
	if !strings.Contains(s.stdout.String(), "admin password") || !strings.Contains(s.stdout.String(), "curl -s -X POST") {
		t.Errorf("serve should print the generated admin password and a curl line:\n%s", s.stdout)
	}
	if code := s.stop(); code != 0 {
		t.Errorf("serve exited %d after shutdown:\n%s", code, s.stderr)
	}
}

// TestServeDemo runs the demo mode the README's first command starts,
// and shows it refused where it would undo production's safety.
func TestServeDemo(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, "-demo", "-store", "sqlite://"+filepath.Join(dir, "flagon.db"))
	if code, body := s.get(t, "/"); code != 200 || !strings.Contains(body, "home page") {
		t.Errorf("demo page: %d", code)
	}
	if code, body := s.ofrep(t, "new-home-page", `{"context":{"targetingKey":"ann","is_staff":true}}`); code != 200 || !strings.Contains(body, `"value":true`) {
		t.Errorf("OFREP: %d %s", code, body)
	}
	s.stop()

	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"serve", "-demo", "-env", "production", "-addr", "127.0.0.1:0", "-store", "sqlite://" + filepath.Join(dir, "prod.db")}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "only outside production") {
		t.Errorf("serve -demo -env production: exit %d, %s; want a refusal", code, stderr.String())
	}
}

// TestServeSecrets shows secrets read from FLAGON_X_FILE, and a warning
// when one is given on the command line.
func TestServeSecrets(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "password")
	if err := os.WriteFile(pw, []byte("from-a-file-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FLAGON_ADMIN_PASSWORD_FILE", pw)
	t.Setenv("FLAGON_API_TOKENS", "ci:token-from-env-0123456789:ro")
	s := startServe(t, "-store", "sqlite://"+filepath.Join(dir, "flagon.db"), "-ofrep-keys", "on-the-command-line")
	if strings.Contains(s.stdout.String(), "admin password") {
		t.Errorf("serve generated a password though FLAGON_ADMIN_PASSWORD_FILE names one:\n%s", s.stdout)
	}
	if code, body := s.get(t, "/api/v1/snapshot", "Authorization", "Bearer token-from-env-0123456789"); code != 200 {
		t.Errorf("snapshot with the token from FLAGON_API_TOKENS: %d %s", code, body)
	}
	if !strings.Contains(s.stderr.String(), "-ofrep-keys puts a secret on the command line") {
		t.Errorf("no warning for a secret on the command line:\n%s", s.stderr)
	}
}

// TestServeEnvironments runs `flagon serve -envs` with tokens and OFREP
// keys from the environment, each naming its environment: each
// environment is served under /env/<name>/, a credential reaches its own
// and is refused on another, and -production beside -envs is refused.
func TestServeEnvironments(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("FLAGON_API_TOKENS", "dev:dev-token-0123456789:ro:development,prod:prod-token-0123456789:ro:production")
	t.Setenv("FLAGON_OFREP_KEYS", "development:dev-key,production:prod-key")
	s := startServe(t, "-store", "sqlite://"+filepath.Join(dir, "flagon.db"), "-envs", "development,staging,production")
	for _, env := range []string{"development", "staging", "production"} {
		if !strings.Contains(s.stdout.String(), "environment "+env) {
			t.Errorf("serve does not print environment %s:\n%s", env, s.stdout)
		}
	}
	if code, body := s.get(t, "/env/production/api/v1/snapshot", "Authorization", "Bearer prod-token-0123456789"); code != 200 {
		t.Errorf("production snapshot with production's token: %d %s", code, body)
	}
	if code, body := s.get(t, "/env/production/api/v1/snapshot", "Authorization", "Bearer dev-token-0123456789"); code != 403 {
		t.Errorf("production snapshot with development's token: %d %s; want 403", code, body)
	}
	if code, body := s.get(t, "/env/production/ofrep/v1/configuration", "X-API-Key", "prod-key"); code != 200 {
		t.Errorf("production OFREP with production's key: %d %s", code, body)
	}
	if code, body := s.get(t, "/env/production/ofrep/v1/configuration", "X-API-Key", "dev-key"); code != 403 {
		t.Errorf("production OFREP with development's key: %d %s; want 403", code, body)
	}
	if code, body := s.get(t, "/env/staging/ofrep/v1/configuration", "X-API-Key", "dev-key"); code != 401 && code != 403 {
		t.Errorf("staging, which has no key, with development's: %d %s; want it closed", code, body)
	}
	s.stop()

	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"serve", "-envs", "a,b", "-production", "-addr", "127.0.0.1:0", "-store", "sqlite://" + filepath.Join(dir, "x.db")}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "name:production") {
		t.Errorf("serve -envs -production: exit %d, %s; want a usage error", code, stderr.String())
	}
}

// TestServeConfigFile runs config-file mode: flags come from the file,
// the store's flags are neither used nor overwritten, and the REST API
// refuses flag edits, saying why.
func TestServeConfigFile(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "flagon.db")
	cfg := filepath.Join(dir, "flags.yaml")
	if err := os.WriteFile(cfg, []byte("flags:\n  from-file:\n    description: in the file\n    default: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FLAGON_API_TOKENS", "ci:token-0123456789abcdef")
	s := startServe(t, "-store", db, "-config", cfg)
	if code, body := s.ofrep(t, "from-file", `{"context":{"targetingKey":"a"}}`); code != 200 || !strings.Contains(body, `"value":true`) {
		t.Errorf("OFREP from the file: %d %s", code, body)
	}
	code, flag := s.get(t, "/api/v1/flags/from-file", "Authorization", "Bearer token-0123456789abcdef")
	if code != 200 {
		t.Fatalf("GET the flag in config-file mode: %d %s", code, flag)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(flag), &body); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "updated_at", "updated_by", "archived"} {
		delete(body, k)
	}
	put, _ := json.Marshal(body)
	req, _ := http.NewRequest("PUT", s.base+"/api/v1/flags/from-file", bytes.NewReader(put))
	req.Header.Set("Authorization", "Bearer token-0123456789abcdef")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode < 400 || !strings.Contains(string(b), "config file") {
		t.Errorf("PUT in config-file mode: %d %s; want a refusal that names the config file", resp.StatusCode, b)
	}
	s.stop()

	st, err := server.OpenStore(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if flags, err := st.Flags(context.Background()); err != nil || len(flags) != 0 {
		t.Errorf("the store holds %d flags (%v) after config-file mode; want none: the file is never copied in", len(flags), err)
	}
}

// TestLintTree lints a tree of two applications, each beside its own
// config file, with tests that use flags of their own.
func TestLintTree(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want []string // the lines of stdout
	}{
		{[]string{"testdata/tree"}, 0, nil},
		{[]string{"testdata/tree", "-tests"}, 1, []string{
			`testdata/tree/blog/post_test.go:11: flag "another-test-flag" is used but not defined (undefined)`,
			`testdata/tree/shop/main_test.go:10: flag "made-up-in-test" is used but not defined (undefined)`,
		}},
		{[]string{"-tests", "-exclude", "blog", "testdata/tree"}, 1, []string{
			`testdata/tree/shop/main_test.go:10: flag "made-up-in-test" is used but not defined (undefined)`,
		}},
		{[]string{"-tests", "-exclude", "blog,shop/main_test.go", "testdata/tree"}, 0, nil},
		{[]string{"-tests", "-exclude", "*_test.go", "testdata/tree"}, 0, nil},
		{[]string{"-exclude", "blog", "-exclude", "shop", "testdata/tree"}, 0, nil},
		// Only part of the shop is read, so its flags used elsewhere are
		// not reported as unused.
		{[]string{"testdata/tree/shop/internal"}, 0, nil},
		{[]string{"testdata/tree/shop/main.go"}, 0, nil},
		// Without its cart package the shop never uses express-checkout.
		{[]string{"-exclude", "internal", "testdata/tree/shop"}, 1, []string{
			`testdata/tree/shop/flags.yaml: flag "express-checkout" is defined but never used (unused)`,
		}},
		// A config named with -config governs everything.
		{[]string{"-config", "testdata/tree/shop/flags.yaml", "testdata/tree"}, 1, []string{
			`testdata/tree/blog/post.go:9: flag "dark-mode" is used but not defined (undefined)`,
		}},
	}
	for _, tt := range tests {
		code, stdout, stderr := cli(t, append([]string{"lint"}, tt.args...)...)
		if code != tt.code {
			t.Errorf("%q: exit %d, want %d (stderr %q)", tt.args, code, tt.code, stderr)
		}
		if got, want := strings.TrimSpace(stdout), strings.Join(tt.want, "\n"); got != want {
			t.Errorf("%q: stdout\n%s\nwant\n%s", tt.args, got, want)
		}
	}
}

// TestLintRepository runs lint over Flagon's own repository: tests are
// skipped, and each example is checked against its own flags.yaml. It
// must report nothing. It runs from an empty directory rather than the
// repository's root, so that a flagon.db left there by `flagon serve`
// plays no part.
func TestLintRepository(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	// A fixed date, so that the examples' expiry dates do not decide
	// whether this test passes.
	code, stdout, stderr := cli(t, "lint", "-date", "2026-12-01", root)
	if code != 0 || stdout != "" {
		t.Errorf("flagon lint on the repository: exit %d, stdout:\n%s\nstderr: %s", code, stdout, stderr)
	}
	for _, want := range []string{"examples/overrides/flags.yaml", "examples/quickstart/flags.yaml", "no findings"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("summary %q lacks %q", stderr, want)
		}
	}
	if _, err := os.Stat("flagon.db"); err == nil {
		t.Error("lint created flagon.db")
	}
}

func TestLintSuggestsNearestKey(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "flags.yaml"), "flags:\n  new-home-page: false\n  checkout: false\n")
	writeFile(t, filepath.Join(dir, "app.go"), "package app\n\nvar (\n\ta = flagon.NewBool(\"new-home-pge\", false, \"\")\n\tb = flagon.NewBool(\"new-home-page\", false, \"\")\n\tc = flagon.NewBool(\"checkout\", false, \"\")\n\td = flagon.NewBool(\"search\", false, \"\")\n)\n")
	code, stdout, _ := cli(t, "lint", dir)
	app := filepath.Join(dir, "app.go")
	want := app + `:4: flag "new-home-pge" is used but not defined; did you mean "new-home-page"? (undefined)` + "\n" +
		app + `:7: flag "search" is used but not defined (undefined)` + "\n"
	if code != 1 || stdout != want {
		t.Errorf("exit %d, stdout\n%s\nwant\n%s", code, stdout, want)
	}
}

// TestLintFallsBackToTheStore checks lint with neither a config file nor
// -store: it uses ./flagon.db if there is one and says so if not, without
// creating it.
func TestLintFallsBackToTheStore(t *testing.T) {
	flags, err := filepath.Abs("testdata/flags.yaml")
	if err != nil {
		t.Fatal(err)
	}
	code, err := os.ReadFile("testdata/app/main.go")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	app := filepath.Join(dir, "app")
	writeFile(t, filepath.Join(dir, "go.mod"), "module example.com/app\n")
	writeFile(t, filepath.Join(app, "main.go"), string(code))
	t.Chdir(dir)
	status, stdout, stderr := cli(t, "lint", app)
	if status != 1 || stdout != "" || !strings.Contains(stderr, "no flags.yaml or flags.yml or flags.json in this directory or above it, and no store at flagon.db; run flagon serve or flagon import first") {
		t.Errorf("no config, no store: exit %d, stdout %q, stderr %q", status, stdout, stderr)
	}
	if _, err := os.Stat("flagon.db"); err == nil {
		t.Fatal("lint created flagon.db")
	}
	if code, _, stderr := cli(t, "import", flags); code != 0 {
		t.Fatalf("import: exit %d: %s", code, stderr)
	}
	status, stdout, stderr = cli(t, "lint", app)
	if status != 1 || !strings.Contains(stdout, `flag "typo-service" is used but not defined`) || !strings.Contains(stderr, "from sqlite://flagon.db") {
		t.Errorf("with ./flagon.db: exit %d, stdout %q, stderr %q", status, stdout, stderr)
	}
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReadOnlyCommandsNeedAStore checks that commands that only read
// refuse an SQLite file that does not exist, and create none, while those
// that write create it.
func TestReadOnlyCommandsNeedAStore(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flagon.db")
	db := "sqlite://" + path
	want := "no store at " + path + "; run flagon serve or flagon import first"
	for _, args := range [][]string{
		{"eval", "-store", db, "new-home-page"},
		{"eval", "-store", path, "new-home-page"},
		{"eval", "-config", "testdata/flags.yaml", "-user", "ann", "-store", db, "new-home-page"},
		{"export", "-store", db},
		{"lint", "-store", db, "testdata/app"},
	} {
		code, stdout, stderr := cli(t, args...)
		if code != 1 || stdout != "" || !strings.Contains(stderr, want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 1 and %q", args, code, stdout, stderr, want)
		}
		if _, err := os.Stat(path); err == nil {
			t.Fatalf("%q created %s", args, path)
		}
	}
	for _, args := range [][]string{
		{"migrate", "-store", filepath.Join(dir, "migrated.db")},
		{"import", "-store", db, "testdata/flags.yaml"},
	} {
		if code, _, stderr := cli(t, args...); code != 0 {
			t.Errorf("%q: exit %d: %s", args, code, stderr)
		}
	}
	if code, stdout, stderr := cli(t, "eval", "-store", db, "new-home-page"); code != 0 || !strings.Contains(stdout, "new-home-page") {
		t.Errorf("eval after import: exit %d, %s%s", code, stdout, stderr)
	}
}

func TestSQLiteFile(t *testing.T) {
	tests := []struct {
		url  string
		want string // "" for no file
	}{
		{"sqlite://flagon.db", "flagon.db"},
		{"sqlite:///var/lib/flagon.db", "/var/lib/flagon.db"},
		{"flagon.db", "flagon.db"},
		{"sqlite:x.db", "x.db"},
		{"sqlite://x.db?_pragma=foreign_keys(1)", "x.db"},
		{"file:x.db?cache=shared", "x.db"},
		{"sqlite://file:/tmp/x.db", "/tmp/x.db"},
		{"file:x?mode=memory", ""},
		{":memory:", ""},
		{"sqlite://", ""},
		{"postgres://u:p@h/db", ""},
		{"postgresql://h/db", ""},
		{"mysql://h/db", ""},
	}
	for _, tt := range tests {
		got, ok := sqliteFile(tt.url)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("sqliteFile(%q) = %q, %v; want %q", tt.url, got, ok, tt.want)
		}
	}
}

func TestImportStandardInput(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "x.db")
	data, err := os.ReadFile("testdata/flags.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := runImport(context.Background(), []string{"-store", db, "-"}, bytes.NewReader(data), &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if want := "imported 1 audiences and 3 flags from <stdin> (4 changed)\n"; stdout.String() != want {
		t.Errorf("stdout %q, want %q", stdout.String(), want)
	}
	_, exported, _ := cli(t, "export", "-store", db)
	if !strings.Contains(exported, "retired-flag") {
		t.Errorf("export after import from stdin lacks the flags:\n%s", exported)
	}
	err = runImport(context.Background(), []string{"-store", db, "-"}, strings.NewReader("flags:\n  a:\n    colour: blue\n"), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "<stdin>:3") {
		t.Errorf("broken input: error %v, want one naming <stdin>:3", err)
	}
}

// TestEvalPrintsJSON checks that eval shows values as JSON.
func TestEvalPrintsJSON(t *testing.T) {
	tests := []struct {
		flag, want string
	}{
		{"maintenance-mode", "false"},
		{"checkout", `"classic"`},
		{"max-items", "10"},
		{"ratio", "0.05"},
		{"banner", `{}`},
		{"html", `"<b>&</b>"`},
		{"spring", `{"color":"green","priority":2,"text":"Spring sale"}`},
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "flags.yaml")
	data, err := os.ReadFile("../../file/testdata/complete.yaml")
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte("\nflags:\n"), []byte("\nflags:\n"+
		"  ratio: {type: float, variants: {x: 0.05}, default: x}\n"+
		"  html: {type: string, variants: {x: \"<b>&</b>\"}, default: x}\n"+
		"  spring: {type: object, variants: {s: {text: Spring sale, color: green, priority: 2}}, default: s}\n"), 1)
	writeFile(t, cfg, string(data))
	for _, tt := range tests {
		code, stdout, stderr := cli(t, "eval", "-config", cfg, tt.flag, "key=user-1", "company_id=7")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", tt.flag, code, stderr)
		}
		var value string
		for _, line := range strings.Split(stdout, "\n") {
			if v, ok := strings.CutPrefix(line, "value"); ok {
				value = strings.TrimSpace(v)
			}
		}
		if value != tt.want {
			t.Errorf("%s: value %s, want %s", tt.flag, value, tt.want)
		}
	}
}

// TestEvalWarnsOfUnknownEnvironment checks that eval, like file.Source,
// warns when no flag has settings for the environment asked for.
func TestEvalWarnsOfUnknownEnvironment(t *testing.T) {
	const cfg = "../../file/testdata/complete.yaml"
	db := "sqlite://" + filepath.Join(t.TempDir(), "x.db")
	if code, _, stderr := cli(t, "import", "-store", db, cfg); code != 0 {
		t.Fatalf("import: %s", stderr)
	}
	tests := []struct {
		env  string
		warn bool
	}{
		{"", false},
		{"production", false},
		{"staging", false},
		{"prod", true},
	}
	for _, src := range [][]string{{"-config", cfg}, {"-store", db}} {
		for _, tt := range tests {
			args := append([]string{"eval", "checkout", "key=a", "-env", tt.env}, src...)
			code, _, stderr := cli(t, args...)
			if code != 0 {
				t.Errorf("%q: exit %d: %s", args, code, stderr)
			}
			warned := strings.Contains(stderr, "level=WARN") && strings.Contains(stderr, "serving the flags' own settings") &&
				strings.Contains(stderr, "environment="+tt.env+" ") && strings.Contains(stderr, "environments=")
			if warned != tt.warn {
				t.Errorf("%q: stderr %q; want a warning: %v", args, stderr, tt.warn)
			}
		}
	}
}

// TestEvalRevision checks that eval shows the revision an application
// would serve: the store's revision for a store, as the server's
// StoreSource shows it, and the file's hash for a config file, as
// file.Source shows it.
func TestEvalRevision(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "x.db")
	revisionOf := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := cli(t, append([]string{"eval", "new-home-page", "key=a"}, args...)...)
		if code != 0 {
			t.Fatalf("eval %q: exit %d: %s", args, code, stderr)
		}
		for _, line := range strings.Split(stdout, "\n") {
			if v, ok := strings.CutPrefix(line, "revision"); ok {
				return strings.TrimSpace(v)
			}
		}
		t.Fatalf("eval %q shows no revision:\n%s", args, stdout)
		return ""
	}
	storeRevision := func(env string) string {
		t.Helper()
		st, err := server.OpenStore(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		src, err := flagon.NewStoreSource(ctx, st, &flagon.StoreSourceOptions{Environment: env})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		return src.Snapshot().Revision()
	}
	for _, cfg := range []string{"testdata/flags.yaml", "../../file/testdata/complete.yaml"} {
		if code, _, stderr := cli(t, "import", "-store", db, cfg); code != 0 {
			t.Fatalf("import %s: %s", cfg, stderr)
		}
		for _, env := range []string{"", "production"} {
			got, want := revisionOf("-store", db, "-env", env), storeRevision(env)
			if got != want {
				t.Errorf("after importing %s, env %q: eval shows revision %q, the server %q", cfg, env, got, want)
			}
			if _, err := strconv.ParseInt(got, 10, 64); err != nil {
				t.Errorf("store revision %q is not the store's number", got)
			}
			src, err := file.New(cfg, &file.Options{Environment: env, NoWatch: true, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := revisionOf("-config", cfg, "-env", env), src.Snapshot().Revision(); got != want {
				t.Errorf("config %s, env %q: eval shows revision %q, file.Source %q", cfg, env, got, want)
			}
			src.Close()
		}
	}
}

// TestKeys rotates and retires the signing keys of a store a server
// started.
func TestKeys(t *testing.T) {
	db := "sqlite://" + filepath.Join(t.TempDir(), "flagon.db")
	s := startServe(t, "-store", db)
	s.stop()
	keys := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), append([]string{"keys", "-store", db}, args...), &stdout, &stderr); code != 0 {
			t.Fatalf("flagon keys %q: exit %d: %s", args, code, stderr.String())
		}
		return stdout.String()
	}
	list := keys("list")
	if strings.Count(list, " signing ") != 1 || strings.Count(list, "\n") != 2 {
		t.Fatalf("keys list after the first start:\n%s\nwant a header and one signing key", list)
	}
	first := strings.Fields(strings.Split(list, "\n")[1])[0]
	out := keys("rotate", "-activate-after", "1h")
	if !strings.HasPrefix(out, "added key ") {
		t.Errorf("rotate: %q", out)
	}
	list = keys("list")
	if !strings.Contains(list, first+"  ") || !strings.Contains(list, " pending ") {
		t.Errorf("after rotate:\n%s\nwant %s signing and the new key pending", list, first)
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"keys", "-store", db, "retire", "nosuchkey"}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "not found") {
		t.Errorf("retire an unknown key: exit %d, %s", code, stderr.String())
	}
	if out := keys("retire", first); !strings.Contains(out, "the signing key") {
		t.Errorf("retire the signing key: %q; want a warning that what it signed no longer verifies", out)
	}
	if list := keys("list"); strings.Contains(list, first) || strings.Count(list, "\n") != 2 {
		t.Errorf("after retire:\n%s", list)
	}
	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), []string{"keys", "-store", "sqlite://" + filepath.Join(t.TempDir(), "none.db"), "list"}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "no store at") {
		t.Errorf("keys list on a missing store: exit %d, %s", code, stderr.String())
	}
}

// TestLintServer adds a server's usage to the code scan: a flag the code
// uses but nothing evaluated is reported as ready to remove, which fails
// the run only with -fail-removable.
func TestLintServer(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "flags.yaml"), "flags:\n  used:\n    default: true\n  forgotten:\n    default: false\n")
	writeFile(t, filepath.Join(dir, "main.go"), `package main

import (
	"context"

	"github.com/flagon/flagon"
)

func main() {
	ctx := context.Background()
	_ = flagon.Bool(ctx, "used", false)
	_ = flagon.Bool(ctx, "forgotten", false)
}
`)
	t.Setenv("FLAGON_API_TOKENS", "ci:token-0123456789abcdef:ro")
	s := startServe(t, "-store", "sqlite://"+filepath.Join(dir, "flagon.db"), "-config", filepath.Join(dir, "flags.yaml"))
	hour := time.Now().UTC().Truncate(time.Hour).Format(time.RFC3339)
	req, _ := http.NewRequest("POST", s.base+"/api/v1/usage", strings.NewReader(
		`{"app":"web","counts":[{"hour":"`+hour+`","flag":"used","variant":"on","count":3},{"hour":"`+hour+`","flag":"used","variant":"off","count":1}]}`))
	req.Header.Set("Authorization", "Bearer token-0123456789abcdef")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("usage report: %s", resp.Status)
	}

	if code, _, stderr := cli(t, "lint", "-server", s.base, dir); code != 1 || !strings.Contains(stderr, "FLAGON_API_TOKEN") {
		t.Errorf("lint -server without a token = %d, %s; want a failure that names FLAGON_API_TOKEN", code, stderr)
	}
	t.Setenv("FLAGON_API_TOKEN", "token-0123456789abcdef")
	code, stdout, stderr := cli(t, "lint", "-server", s.base, "-usage-days", "1", dir)
	want := `main.go:12: flag "forgotten" looks ready to remove: no evaluation kept (ready-to-remove)`
	if code != 0 || !strings.Contains(stdout, want) || strings.Contains(stdout, `"used"`) {
		t.Errorf("lint -server = %d\n%s%s\nwant exit 0 and %q only", code, stdout, stderr, want)
	}
	if code, _, _ := cli(t, "lint", "-server", s.base, "-fail-removable", dir); code != 1 {
		t.Errorf("lint -server -fail-removable = %d, want 1", code)
	}
}

// TestConfigEnvironmentFromFLAGON_ENV checks that, with -config, the
// environment comes from -env, which defaults to FLAGON_ENV: the file
// package reads no environment variables, so the command passes it.
func TestConfigEnvironmentFromFLAGON_ENV(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "flags.json")
	writeFile(t, cfg, `{
  "flags": {"banner": {"default": true}},
  "environments": {"staging": {"banner": {"default": false}}}
}
`)
	eval := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := cli(t, append([]string{"eval", "-config", cfg}, args...)...)
		if code != 0 {
			t.Fatalf("eval %v: exit %d: %s", args, code, stderr)
		}
		return strings.Join(strings.Fields(stdout), " ")
	}
	t.Setenv("FLAGON_ENV", "")
	if out := eval("banner"); !strings.Contains(out, "value true") {
		t.Errorf("without FLAGON_ENV: %s; want the flag's own setting (true)", out)
	}
	t.Setenv("FLAGON_ENV", "staging")
	if out := eval("banner"); !strings.Contains(out, "value false") || !strings.Contains(out, "environment staging") {
		t.Errorf("FLAGON_ENV=staging: %s; want staging's setting (false)", out)
	}
	if out := eval("banner", "-env", "development"); !strings.Contains(out, "value true") {
		t.Errorf("FLAGON_ENV=staging -env development: %s; want -env to win (true)", out)
	}

	s := startServe(t, "-store", "sqlite://"+filepath.Join(dir, "flagon.db"), "-config", cfg)
	if code, body := s.ofrep(t, "banner", `{"context":{"targetingKey":"a"}}`); code != 200 || !strings.Contains(body, `"value":false`) {
		t.Errorf("serve -config with FLAGON_ENV=staging: OFREP %d %s; want staging's setting (false)", code, body)
	}
}

// TestRelay starts `flagon serve`, then `flagon relay` following it with
// a token from FLAGON_UPSTREAM_TOKEN_FILE, and checks that a write to the
// server reaches the relay's OFREP endpoint, that the relay's snapshot
// endpoint takes its own tokens, and that it refuses writes.
func TestRelay(t *testing.T) {
	dir := t.TempDir()
	const writer, reader, relayTok = "writer-token-0123456789", "reader-token-0123456789", "relay-token-0123456789"
	t.Setenv("FLAGON_API_TOKENS", "ci:"+writer+",relay:"+reader+":ro")
	s := startServe(t, "-store", "sqlite://"+filepath.Join(dir, "flagon.db"))
	put := func(version int, value bool) {
		t.Helper()
		body := fmt.Sprintf(`{"type":"bool","variants":[{"name":"on","value":true},{"name":"off","value":false}],"default":%q}`, map[bool]string{true: "on", false: "off"}[value])
		if version > 0 {
			body = strings.TrimSuffix(body, "}") + fmt.Sprintf(`,"version":%d}`, version)
		}
		req, _ := http.NewRequest("PUT", s.base+"/api/v1/flags/checkout", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+writer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("PUT checkout = %d %s", resp.StatusCode, b)
		}
	}
	put(0, false)

	tokenFile := filepath.Join(dir, "upstream-token")
	if err := os.WriteFile(tokenFile, []byte(reader+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FLAGON_UPSTREAM_TOKEN_FILE", tokenFile)
	t.Setenv("FLAGON_API_TOKENS", "edge:"+relayTok+":ro")
	r := startCommand(t, "relay", "-upstream", s.base, "-cache-file", filepath.Join(dir, "relay-cache.json"))
	if !strings.Contains(r.stdout.String(), "read-only relay of "+s.base) {
		t.Errorf("relay's banner:\n%s", r.stdout)
	}
	// wait polls the relay's OFREP endpoint until checkout is want (a
	// deadline against hangs, not a speed limit).
	wait := func(want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			code, body := r.ofrep(t, "checkout", `{"context":{"targetingKey":"u1"}}`)
			if code == 200 && strings.Contains(body, `"value":`+want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("relay OFREP checkout = %d %s; want %s", code, body, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wait("false")
	put(1, true)
	wait("true")
	if code, body := r.get(t, "/api/v1/snapshot", "Authorization", "Bearer "+relayTok); code != 200 || !strings.Contains(body, "checkout") {
		t.Errorf("relay snapshot with its token = %d %s", code, body)
	}
	if code, _ := r.get(t, "/api/v1/snapshot", "Authorization", "Bearer "+reader); code != 401 {
		t.Errorf("relay snapshot with the server's token = %d, want 401", code)
	}
	if code, _ := r.get(t, "/admin/"); code != 404 {
		t.Errorf("relay /admin/ = %d, want 404", code)
	}
	if code, body := r.get(t, "/healthz"); code != 200 || !strings.Contains(body, `"status": "ok"`) {
		t.Errorf("relay healthz = %d %s", code, body)
	}
	if code := r.stop(); code != 0 {
		t.Errorf("relay exited %d:\n%s", code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "relay-cache.json")); err != nil {
		t.Errorf("relay wrote no cache file: %v", err)
	}
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"relay"}, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "-upstream") {
		t.Errorf("relay without -upstream: exit %d %s; want 2 naming -upstream", code, stderr.String())
	}
}

func TestUsers(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "flagon.db")
	if code, _, stderr := cli(t, "migrate", "-store", db); code != 0 {
		t.Fatalf("migrate: %d %s", code, stderr)
	}
	users := func(want int, args ...string) (string, string) {
		t.Helper()
		code, stdout, stderr := cli(t, append([]string{"users", "-store", db}, args...)...)
		if code != want {
			t.Fatalf("flagon users %q: exit %d, want %d: %s%s", args, code, want, stdout, stderr)
		}
		return stdout, stderr
	}
	if out, _ := users(0, "list"); !strings.Contains(out, "no users") {
		t.Errorf("list of a new store: %q", out)
	}
	// No password from the environment, and standard input is no
	// terminal: refused, and there is no flag to give one.
	t.Setenv("FLAGON_USER_PASSWORD_FILE", "")
	os.Unsetenv("FLAGON_USER_PASSWORD")
	if _, stderr := users(1, "add", "ann"); !strings.Contains(stderr, "FLAGON_USER_PASSWORD") {
		t.Errorf("add without a password: %q", stderr)
	}
	users(2, "add", "ann", "-password", "anns password")

	t.Setenv("FLAGON_USER_PASSWORD", "anns password")
	if out, _ := users(0, "add", "ann", "-role", "editor", "-env-role", "production=viewer"); out != "added ann: editor (production=viewer)\n" {
		t.Errorf("add ann: %q", out)
	}
	if _, stderr := users(1, "add", "ann"); !strings.Contains(stderr, "exists") {
		t.Errorf("add ann again: %q", stderr)
	}
	users(2, "add", "cy", "-role", "boss")
	users(2, "add", "cy", "-env-role", "production")
	users(2, "add", "has space")
	t.Setenv("FLAGON_USER_PASSWORD", "short")
	users(1, "add", "cy")

	os.Unsetenv("FLAGON_USER_PASSWORD")
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("bobs password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FLAGON_USER_PASSWORD_FILE", pwFile)
	users(0, "add", "bob", "-role", "admin")

	out, _ := users(0, "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "ann ") || !strings.Contains(lines[1], "editor") || !strings.Contains(lines[1], "production=viewer") ||
		!strings.HasPrefix(lines[2], "bob ") || !strings.Contains(lines[2], "admin") {
		t.Errorf("list:\n%s", out)
	}

	users(0, "set-role", "ann", "admin")
	users(0, "set-role", "ann", "none", "-env", "staging")
	users(2, "set-role", "ann", "none")
	users(2, "set-role", "ann", "boss")
	users(1, "set-role", "zed", "admin")

	st, err := server.OpenStore(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	ann, err := st.User(t.Context(), "ann")
	if err != nil {
		t.Fatal(err)
	}
	if ann.Role != "admin" || ann.RoleIn("staging") != "none" || ann.RoleIn("production") != "viewer" {
		t.Errorf("ann = %+v", ann)
	}
	bob, _ := st.User(t.Context(), "bob")
	if bcrypt.CompareHashAndPassword([]byte(bob.PasswordHash), []byte("bobs password")) != nil {
		t.Error("bob's hash is not of the password in the file (its newline removed)")
	}
	es, err := st.Audit(t.Context(), flagon.AuditQuery{Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	adds := 0
	for _, e := range es {
		if e.Action == "user.add" && e.Actor == "flagon users add" {
			adds++
		}
		if strings.Contains(string(e.After)+string(e.Before), "$2") {
			t.Errorf("audit entry %s %s holds a hash", e.Action, e.Target)
		}
	}
	if adds != 2 {
		t.Errorf("%d user.add entries by flagon users add, want 2", adds)
	}
	st.Close()

	if out, _ := users(0, "remove", "bob"); out != "removed bob\n" {
		t.Errorf("remove bob: %q", out)
	}
	users(1, "remove", "bob")
	// ann is the last admin: she may be neither demoted nor removed, or
	// nobody could manage users (and the shared password no longer signs
	// in once users exist).
	if _, stderr := users(1, "set-role", "ann", "editor"); !strings.Contains(stderr, "no enabled admin") {
		t.Errorf("demoting the last admin: %q", stderr)
	}
	t.Setenv("FLAGON_USER_PASSWORD", "cys password")
	users(0, "add", "cy", "-role", "editor")
	if _, stderr := users(1, "remove", "ann"); !strings.Contains(stderr, "no enabled admin") {
		t.Errorf("removing the last admin: %q", stderr)
	}
	users(0, "set-role", "ann", "viewer", "-env", "production") // still admin by default
	// The last user of all may go: the store is back to its bootstrap,
	// where the shared password signs in.
	users(0, "remove", "cy")
	users(0, "remove", "ann")
	users(2, "frobnicate")
	users(2, "remove")
}
