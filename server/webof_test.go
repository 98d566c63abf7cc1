package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/flagon/flagon/internal/browsertest"
	"github.com/flagon/flagon/server"
)

// webofDir holds the page of TestBrowserWebSDK and the npm packages it is
// built from, locked by package-lock.json.
const webofDir = "testdata/webof"

// buildWebSDKPage bundles testdata/webof/page.js with esbuild into a new
// directory beside index.html, and returns that directory. The packages
// come from testdata/webof/node_modules when `npm ci` was run there (CI
// does), else from `npm ci` into a cache directory named for the
// lockfile's hash. Without node and npm, or when npm cannot install, the
// test skips.
func buildWebSDKPage(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests are skipped with -short")
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s on PATH (apt-get install nodejs npm): the OpenFeature web SDK test is skipped", tool)
		}
	}
	src, err := filepath.Abs(webofDir)
	if err != nil {
		t.Fatal(err)
	}
	dir := src
	if _, err := os.Stat(filepath.Join(src, "node_modules", ".package-lock.json")); err != nil {
		lock, err := os.ReadFile(filepath.Join(src, "package-lock.json"))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(lock)
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		dir = filepath.Join(cache, "flagon", "webof-"+hex.EncodeToString(sum[:8]))
		if _, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err != nil {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"package.json", "package-lock.json"} {
				b, err := os.ReadFile(filepath.Join(src, name))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if out, err := run(dir, "npm", "ci", "--no-audit", "--no-fund"); err != nil {
				t.Skipf("npm ci in %s failed, so the OpenFeature web SDK test is skipped: %v\n%s", dir, err, out)
			}
		}
	}
	out := t.TempDir()
	b, err := os.ReadFile(filepath.Join(src, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "index.html"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	esbuild := filepath.Join(dir, "node_modules", ".bin", "esbuild")
	// The entry point stays in testdata; NODE_PATH finds the packages
	// wherever npm put them.
	cmd := exec.Command(esbuild, filepath.Join(src, "page.js"), "--bundle", "--format=iife",
		"--target=es2020", "--log-level=warning", "--outfile="+filepath.Join(out, "page.js"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bundling the page with esbuild: %v\n%s", err, b)
	}
	return out
}

func run(dir, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// TestBrowserWebSDK is issue 12's browser check: a page on one origin,
// built from OpenFeature's published web SDK and OFREP web provider,
// evaluates flags from Flagon on another origin, through CORS with an
// API key (so the browser sends a preflight); a flag changed through the
// REST API changes on the page without a reload, and the provider names
// only that flag as changed; a kill-switched flag reads as DISABLED with
// the default variant's value.
func TestBrowserWebSDK(t *testing.T) {
	page := buildWebSDKPage(t)
	pageSrv := httptest.NewServer(http.FileServer(http.Dir(page)))
	t.Cleanup(pageSrv.Close)

	st := openSQLite(t)
	const ofrepKey = "ofrep-key-0123456789"
	srv, err := server.New(context.Background(), st, &server.Options{
		Logger:      quiet,
		APITokens:   []server.APIToken{{Name: "test", Secret: token}},
		OFREPKeys:   []string{ofrepKey},
		CORSOrigins: []string{pageSrv.URL},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	// streams counts the event streams the page opened and Flagon
	// admitted: the OFREP web provider reads "eventStreams" from the bulk
	// response and opens it with EventSource, which sends no headers, so
	// the URL's token must do.
	var streams atomic.Int32
	h := srv.Handler()
	flagon := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ofrep/v1/events" && r.URL.Query().Get("token") != "" {
			streams.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	// Cleanups, not defers: the page holds the OFREP event stream open
	// until the browser goes, which browsertest does in a cleanup
	// registered later, so run before these.
	t.Cleanup(flagon.Close)
	// Both listen on 127.0.0.1; the page reaches Flagon as localhost, on
	// another port: another origin either way.
	flagonURL := strings.Replace(flagon.URL, "127.0.0.1", "localhost", 1)
	if flagonURL == flagon.URL {
		t.Fatalf("flagon's test server is not on 127.0.0.1: %s", flagon.URL)
	}

	api := flagon.URL + "/api/v1/flags/"
	put := func(key, version, body string) {
		t.Helper()
		var hdr []string
		if version != "" {
			hdr = []string{"If-Match", `"` + version + `"`}
		}
		if code, _, resp := do(t, "PUT", api+key, token, body, hdr...); code != 200 {
			t.Fatalf("PUT %s = %d %s", key, code, resp)
		}
	}
	put("checkout", "", `{"type":"bool","variants":[{"name":"on","value":true},{"name":"off","value":false}],"default":"off",
		"rules":[{"id":"pro","clauses":[{"attribute":"plan","op":"equals","values":["pro"]}],"serve":{"variant":"on"}}]}`)
	put("banner", "", `{"type":"string","variants":[{"name":"plain","value":"Welcome"},{"name":"sale","value":"Sale today"}],"default":"plain"}`)
	put("kill", "", `{"type":"bool","variants":[{"name":"on","value":true},{"name":"off","value":false}],"default":"on",
		"rules":[{"clauses":[{"attribute":"plan","op":"equals","values":["pro"]}],"serve":{"variant":"off"}}]}`)

	b := browsertest.Start(t, pageSrv.URL)
	q := "/?ofrep=" + flagonURL + "&key=" + ofrepKey + "&user=carl&plan=pro&poll=200" +
		"&flags=checkout:boolean,banner:string,kill:boolean"
	b.Open(q)
	ctx, cancel := context.WithTimeout(b.Context(), 30*time.Second)
	_, err = chromedp.Run(ctx, chromedp.WaitVisible(chromedp.CSS(`body[data-ready]`)))
	cancel()
	if err != nil {
		t.Fatalf("the page did not start: %v", err)
	}
	if got := b.Eval(`document.body.dataset.ready`); got != "yes" {
		t.Fatalf("the page did not start: %s", b.Text("#error"))
	}

	type shown struct{ value, variant, reason, err string }
	read := func(key string) shown {
		return shown{
			b.Eval(`document.getElementById("flag-` + key + `").dataset.value`),
			b.Eval(`document.getElementById("flag-` + key + `").dataset.variant`),
			b.Eval(`document.getElementById("flag-` + key + `").dataset.reason`),
			b.Eval(`document.getElementById("flag-` + key + `").dataset.error`),
		}
	}
	for key, want := range map[string]shown{
		"checkout": {"true", "on", "TARGETING_MATCH", ""},
		"banner":   {"Welcome", "plain", "STATIC", ""},
		"kill":     {"false", "off", "TARGETING_MATCH", ""},
	} {
		if got := read(key); got != want {
			t.Errorf("at first, %s shows %+v, want %+v", key, got, want)
		}
	}

	// waitChange waits, without reloading, for the page to count the
	// n-th CONFIGURATION_CHANGED event.
	waitChange := func(n string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(b.Context(), 15*time.Second)
		defer cancel()
		if _, err := chromedp.Run(ctx, chromedp.WaitVisible(chromedp.CSS(`body[data-changes="`+n+`"]`))); err != nil {
			t.Fatalf("no change %s on the page: %v; it shows %q", n, err, b.Text("#flags"))
		}
	}
	b.Do("mark the page", chromedp.Evaluate[chromedp.Void](`window.sameDocument = true`))

	// Change banner's default through the REST API.
	put("banner", "1", `{"type":"string","variants":[{"name":"plain","value":"Welcome"},{"name":"sale","value":"Sale today"}],"default":"sale"}`)
	waitChange("1")
	if got, want := read("banner"), (shown{"Sale today", "sale", "STATIC", ""}); got != want {
		t.Errorf("after the change, banner shows %+v, want %+v", got, want)
	}
	if got := b.Text("#changed"); got != "banner" {
		t.Errorf("the provider reported %q as changed, want banner alone", got)
	}

	// Kill-switch kill: its default variant, reason DISABLED, rules aside.
	put("kill", "1", `{"type":"bool","variants":[{"name":"on","value":true},{"name":"off","value":false}],"default":"on","disabled":true,
		"rules":[{"clauses":[{"attribute":"plan","op":"equals","values":["pro"]}],"serve":{"variant":"off"}}]}`)
	waitChange("2")
	if got, want := read("kill"), (shown{"true", "on", "DISABLED", ""}); got != want {
		t.Errorf("disabled, kill shows %+v, want %+v", got, want)
	}
	if got := b.Text("#changed"); got != "kill" {
		t.Errorf("the provider reported %q as changed, want kill alone", got)
	}
	if got := read("checkout"); got != (shown{"true", "on", "TARGETING_MATCH", ""}) {
		t.Errorf("checkout, unchanged, now shows %+v", got)
	}
	if got := b.Eval(`String(window.sameDocument)`); got != "true" {
		t.Errorf("the page reloaded")
	}
	if streams.Load() == 0 {
		t.Errorf("the page never opened Flagon's event stream (eventStreams, with its token)")
	}
}
