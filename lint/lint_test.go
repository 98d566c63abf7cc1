package lint_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/lint"
)

func write(t *testing.T, dir, name, body string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestScanAndCheck(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "app/flags.go", `package app

import "github.com/flagon/flagon"

var NewHomePage = flagon.NewBool("new-home-page", false, "Expose the new home page")

func handler(c *flagon.Client, ctx context.Context) {
	if c.Bool(ctx, "use-new-email-service", false) {}
	_ = flagon.String(ctx, "checkout", "classic")
	_, _ = c.IntDetail(ctx, "ghost-flag", 3)
	_ = strconv.Quote("not-a-flag")
	_ = fmt.Sprint("x", "nor-this")
}
`)
	write(t, dir, "app/templates/home.html", `<html>{{if flag .Ctx "new-home-page"}}new{{else}}old{{end}}
<p>{{variant .Ctx "typo-flag"}}</p>{{ template "x" . }}</html>`)
	write(t, dir, "app/testdata/ignored.go", `package x; var _ = flagon.NewBool("in-testdata", false, "")`)
	write(t, dir, "vendor/v.go", `package v; var _ = flagon.NewBool("in-vendor", false, "")`)

	refs, err := lint.Scan(nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range refs {
		got = append(got, r.Key)
	}
	want := "new-home-page,use-new-email-service,checkout,ghost-flag,new-home-page,typo-flag"
	if strings.Join(got, ",") != want {
		t.Errorf("Scan keys = %s, want %s", strings.Join(got, ","), want)
	}

	defs := flagon.Definitions{Flags: []flagon.Flag{
		{Key: "new-home-page"},
		{Key: "use-new-email-service", Expires: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Owner: "mail-team"},
		{Key: "checkout"},
		{Key: "retired-flag"},
	}}
	findings := lint.Check(defs, refs, time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC))
	var lines []string
	for _, f := range findings {
		lines = append(lines, string(f.Kind)+" "+f.Key)
	}
	wantF := "undefined ghost-flag,undefined typo-flag,expired use-new-email-service,unused retired-flag"
	if strings.Join(lines, ",") != wantF {
		t.Errorf("findings = %s, want %s", strings.Join(lines, ","), wantF)
	}
	if s := findings[0].String(); !strings.Contains(s, "flags.go:10") || !strings.Contains(s, `"ghost-flag" is used but not defined`) {
		t.Errorf("finding %q should name the file, line and problem", s)
	}
}

func TestScanReportsSyntaxErrors(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "bad.go", "package x\nfunc {")
	if _, err := lint.Scan(nil, dir); err == nil || !strings.Contains(err.Error(), "bad.go:2") {
		t.Errorf("Scan error = %v, want one naming bad.go:2", err)
	}
}

// tree writes a small application: code, a test, templates, generated
// code, and the directories Scan always skips.
func tree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write(t, dir, "app.go", `package app; var _ = flagon.NewBool("in-app", false, "")`)
	write(t, dir, "app_test.go", `package app; var _ = flagon.NewBool("in-test", false, "")`)
	write(t, dir, "web/page.html", `{{if flag .Ctx "in-template"}}x{{end}}`)
	write(t, dir, "web/page_test.go", `package web; var _ = flagon.NewBool("in-web-test", false, "")`)
	write(t, dir, "gen/gen.go", `package gen; var _ = flagon.NewBool("in-gen", false, "")`)
	write(t, dir, "web/zz_gen.go", `package web; var _ = flagon.NewBool("in-zz-gen", false, "")`)
	write(t, dir, "examples/demo/main.go", `package main; var _ = flagon.NewBool("in-example", false, "")`)
	write(t, dir, "testdata/x.go", `package x; var _ = flagon.NewBool("in-testdata", false, "")`)
	write(t, dir, "vendor/v/v.go", `package v; var _ = flagon.NewBool("in-vendor", false, "")`)
	write(t, dir, ".hidden/h.go", `package h; var _ = flagon.NewBool("in-hidden", false, "")`)
	write(t, dir, "node_modules/n/n.go", `package n; var _ = flagon.NewBool("in-node-modules", false, "")`)
	return dir
}

func TestScanOptions(t *testing.T) {
	dir := tree(t)
	tests := []struct {
		name string
		opts *lint.Options
		want string // keys in sorted order
	}{
		{"nil options skip tests", nil, "in-app,in-example,in-gen,in-template,in-zz-gen"},
		{"tests", &lint.Options{Tests: true}, "in-app,in-example,in-gen,in-template,in-test,in-web-test,in-zz-gen"},
		{"directory name", &lint.Options{Exclude: []string{"gen"}}, "in-app,in-example,in-template,in-zz-gen"},
		{"file name pattern at any depth", &lint.Options{Exclude: []string{"*_gen.go"}}, "in-app,in-example,in-gen,in-template"},
		{"relative path with a slash", &lint.Options{Exclude: []string{"examples/*"}}, "in-app,in-gen,in-template,in-zz-gen"},
		{"relative directory with a trailing slash", &lint.Options{Exclude: []string{"examples/"}}, "in-app,in-gen,in-template,in-zz-gen"},
		{"a slash pattern matches from the root only", &lint.Options{Exclude: []string{"demo/main.go"}}, "in-app,in-example,in-gen,in-template,in-zz-gen"},
		{"several, with tests", &lint.Options{Tests: true, Exclude: []string{"web", "gen"}}, "in-app,in-example,in-test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refs, err := lint.Scan(tt.opts, dir)
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, r := range refs {
				keys = append(keys, r.Key)
			}
			sort.Strings(keys)
			if got := strings.Join(keys, ","); got != tt.want {
				t.Errorf("keys = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestScanNamedFile(t *testing.T) {
	dir := tree(t)
	// A file named outright is scanned even if it is a test.
	refs, err := lint.Scan(nil, filepath.Join(dir, "app_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 1 || refs[0].Key != "in-test" {
		t.Errorf("refs = %v, want the one in app_test.go", refs)
	}
}

func TestScanErrors(t *testing.T) {
	tests := []struct {
		name string
		opts *lint.Options
		dir  string
		want string
	}{
		{"missing directory", nil, "no-such-dir", "lint: lstat no-such-dir: no such file or directory"},
		{"bad pattern", &lint.Options{Exclude: []string{"[x"}}, ".", `lint: exclude pattern "[x": syntax error in pattern`},
	}
	for _, tt := range tests {
		_, err := lint.Scan(tt.opts, tt.dir)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestCheckSuggests(t *testing.T) {
	defs := flagon.Definitions{Flags: []flagon.Flag{
		{Key: "new-home-page"}, {Key: "checkout"}, {Key: "dark-mode"}, {Key: "dark-mode-v2"}, {Key: "b"},
	}}
	tests := []struct {
		used, want string
	}{
		{"new-home-pag", "new-home-page"}, // one letter missing
		{"new-hmoe-page", "new-home-page"},
		{"new-home", "new-home-page"},  // a prefix of a defined key
		{"home-page", "new-home-page"}, // a suffix
		{"chekout", "checkout"},
		{"dark-mod", "dark-mode"}, // nearer than dark-mode-v2
		{"dark-mode-v3", "dark-mode-v2"},
		{"search-v2", ""},
		{"a", ""}, // one letter from "b", but so is every one-letter key
		{"cart", ""},
	}
	for _, tt := range tests {
		findings := lint.Check(defs, []lint.Ref{{Key: tt.used, File: "x.go", Line: 1}}, time.Now())
		var got *lint.Finding
		for i := range findings {
			if findings[i].Kind == lint.Undefined {
				got = &findings[i]
			}
		}
		if got == nil {
			t.Fatalf("%q: no undefined finding in %v", tt.used, findings)
		}
		if got.Suggestion != tt.want {
			t.Errorf("%q: suggestion %q, want %q", tt.used, got.Suggestion, tt.want)
		}
		hint := fmt.Sprintf("did you mean %q?", tt.want)
		if has := strings.Contains(got.String(), hint); has != (tt.want != "") {
			t.Errorf("%q: finding %q; hint %q shown: %v, want %v", tt.used, got, hint, has, tt.want != "")
		}
	}
}

func TestFindConfigsAndNearest(t *testing.T) {
	root := t.TempDir()
	write(t, root, "go.mod", "module example.com/x\n")
	write(t, root, "flags.yaml", "flags: {}\n")
	write(t, root, "svc/a/a.go", "package a\n")
	write(t, root, "svc/b/flags.json", "{}\n")
	write(t, root, "svc/b/b.go", "package b\n")
	write(t, root, "svc/b/deep/d.go", "package deep\n")
	write(t, root, "svc/testdata/flags.yaml", "flags: {}\n")
	write(t, root, "ignored/flags.yml", "flags: {}\n")
	abs := func(p string) string { return filepath.Join(root, p) }

	tests := []struct {
		name string
		opts *lint.Options
		dirs []string
		want []string // relative to root; "^" marks a file found above
	}{
		{"root", nil, []string{root}, []string{"flags.yaml", "ignored/flags.yml", "svc/b/flags.json"}},
		{"a subdirectory finds the file above it", nil, []string{abs("svc/a")}, []string{"^flags.yaml"}},
		{"and its own", nil, []string{abs("svc/b")}, []string{"^flags.yaml", "svc/b/flags.json"}},
		{"one found in a directory and above another is in", nil, []string{abs("svc/b/deep"), abs("svc")}, []string{"svc/b/flags.json", "^flags.yaml"}},
		{"excluded", &lint.Options{Exclude: []string{"ignored"}}, []string{root}, []string{"flags.yaml", "svc/b/flags.json"}},
	}
	for _, tt := range tests {
		got, err := lint.FindConfigs(tt.opts, tt.dirs...)
		if err != nil {
			t.Fatal(err)
		}
		var rel []string
		for _, g := range got {
			r, err := filepath.Rel(root, g.Path)
			if err != nil {
				t.Fatal(err)
			}
			if g.Above {
				r = "^" + r
			}
			rel = append(rel, filepath.ToSlash(r))
		}
		sort.Strings(rel)
		sort.Strings(tt.want)
		if strings.Join(rel, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%s: FindConfigs = %v, want %v", tt.name, rel, tt.want)
		}
	}

	configs := []lint.Config{{Path: abs("flags.yaml")}, {Path: abs("svc/b/flags.json")}}
	for file, want := range map[string]int{
		"svc/a/a.go":      0,
		"svc/b/b.go":      1,
		"svc/b/deep/d.go": 1,
		"main.go":         0,
		"svc/bb/x.go":     0, // svc/b is not a parent of svc/bb
	} {
		if got := lint.Nearest(configs, abs(file)); got != want {
			t.Errorf("Nearest(%s) = %d, want %d", file, got, want)
		}
	}
	if got := lint.Nearest(configs[1:], abs("svc/a/a.go")); got != -1 {
		t.Errorf("Nearest with no config above = %d, want -1", got)
	}
}

func TestFindConfigsStopsAtModuleRoot(t *testing.T) {
	outer := t.TempDir()
	write(t, outer, "flags.yaml", "flags: {}\n")
	write(t, outer, "mod/go.mod", "module example.com/m\n")
	write(t, outer, "mod/pkg/p.go", "package p\n")
	got, err := lint.FindConfigs(nil, filepath.Join(outer, "mod", "pkg"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("FindConfigs = %v; a file above the module root must not apply", got)
	}
}
