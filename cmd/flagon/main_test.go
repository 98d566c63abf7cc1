package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// cli runs the command line and returns its exit status and output.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestUsage(t *testing.T) {
	if code, _, stderr := cli(t); code != 2 || !strings.Contains(stderr, "serve") {
		t.Errorf("no arguments: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := cli(t, "frobnicate"); code != 2 || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := cli(t, "eval", "-nope"); code != 2 || !strings.Contains(stderr, "flag provided but not defined: -nope") {
		t.Errorf("bad flag: exit %d, stderr %q", code, stderr)
	}
	if code, stdout, _ := cli(t, "version"); code != 0 || !strings.HasPrefix(stdout, "flagon ") {
		t.Errorf("version: exit %d, stdout %q", code, stdout)
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
		{[]string{"new-home-page", "key=user-6"}, 0, []string{"reason       SPLIT", "fallthrough, percentage split"}},
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

// TestServe starts `flagon serve` on a new SQLite file with no other
// settings, checks the demo, health, OFREP and admin answer, then stops it
// as SIGTERM would and checks it shuts down cleanly.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "-addr", "127.0.0.1:0", "-store", "sqlite://" + filepath.Join(dir, "flagon.db")}, &stdout, &stderr)
	}()
	var base string
	deadline := time.Now().Add(20 * time.Second)
	for base == "" {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s\n%s", stdout.String(), stderr.String())
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d:\n%s", code, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if _, rest, ok := strings.Cut(stdout.String(), "serving "); ok {
			base, _, _ = strings.Cut(rest, " ")
		}
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/"); code != 200 || !strings.Contains(body, "home page") {
		t.Errorf("demo page: %d", code)
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, `"status": "ok"`) {
		t.Errorf("healthz: %d %s", code, body)
	}
	resp, err := http.Post(base+"/ofrep/v1/evaluate/flags/new-home-page", "application/json", strings.NewReader(`{"context":{"targetingKey":"ann","is_staff":true}}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"value":true`) {
		t.Errorf("OFREP: %d %s", resp.StatusCode, b)
	}
	if code, body := get("/admin/"); code != 200 || strings.Contains(body, "new-home-page") {
		t.Errorf("admin without sign-in: %d; must show the sign-in page and no flag names", code)
	}
	if !strings.Contains(stdout.String(), "admin password") {
		t.Errorf("serve should print the generated admin password:\n%s", stdout.String())
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited %d after shutdown:\n%s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not shut down")
	}
}
