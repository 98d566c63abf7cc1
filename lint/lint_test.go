package lint_test

import (
	"os"
	"path/filepath"
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

	refs, err := lint.Scan(dir)
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
	if _, err := lint.Scan(dir); err == nil || !strings.Contains(err.Error(), "bad.go:2") {
		t.Errorf("Scan error = %v, want one naming bad.go:2", err)
	}
}
