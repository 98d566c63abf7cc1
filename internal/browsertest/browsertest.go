// Package browsertest drives Debian's chromium, headless, through chromedp,
// for tests that check pages as a person sees them: the executable named by
// FLAGON_TEST_CHROMIUM, else /usr/bin/chromium. Without either, or with
// -short, tests that use it skip; CI installs chromium, so there they run.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Timeout bounds one test's whole use of the browser.
const Timeout = 3 * time.Minute

// A Browser is one headless chromium with its own profile, on one site.
type Browser struct {
	t     *testing.T
	base  string // the site's URL, such as an httptest server's
	ctx   context.Context
	mu    sync.Mutex
	errs  []string // console errors and exceptions
	allow []string // console errors that do not fail the test
}

// Start starts a browser for the site at base, or skips the test when no
// chromium is installed. Console errors fail the test at its end.
func Start(t *testing.T, base string) *Browser {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests are skipped with -short")
	}
	exe := os.Getenv("FLAGON_TEST_CHROMIUM")
	if exe == "" {
		exe = "/usr/bin/chromium"
	}
	if _, err := os.Stat(exe); err != nil {
		t.Skipf("no chromium at %s (set FLAGON_TEST_CHROMIUM, or apt-get install chromium): browser test skipped", exe)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	base0, cancelTimeout := context.WithTimeout(context.Background(), Timeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(base0, opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
		cancelTimeout()
	})
	b := &Browser{t: t, base: strings.TrimSuffix(base, "/"), ctx: ctx}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.errs = append(b.errs, m.String())
				b.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, e := range b.errs {
			if !strings.Contains(e, "favicon") && !b.allowed(e) {
				t.Errorf("browser console: %s", e)
			}
		}
	})
	return b
}

// Allow makes console errors that contain s expected: they no longer
// fail the test. A test that opens an error page on purpose allows the
// browser's report of its status, say.
func (b *Browser) Allow(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.allow = append(b.allow, s)
}

func (b *Browser) allowed(e string) bool {
	for _, s := range b.allow {
		if strings.Contains(e, s) {
			return true
		}
	}
	return false
}

// Context returns the browser's context, for chromedp actions the methods
// do not cover.
func (b *Browser) Context() context.Context { return b.ctx }

// Do runs actions, failing the test on error.
func (b *Browser) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// Submit runs an action that loads a new page (a click that sends a
// form), waits for the page and returns its status.
func (b *Browser) Submit(what string, a chromedp.Action[chromedp.Void]) int64 {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	if resp == nil {
		b.t.Fatalf("%s: no page loaded", what)
	}
	return resp.Status
}

// Open loads the page at path on the site.
func (b *Browser) Open(path string) {
	b.t.Helper()
	b.Do("open "+path, chromedp.Navigate(b.base+path))
}

// Text returns the visible text of the first element sel matches.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// Eval evaluates JavaScript that yields a string.
func (b *Browser) Eval(js string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return s
}

// Has reports whether the page has an element sel matches.
func (b *Browser) Has(sel string) bool {
	b.t.Helper()
	return b.Eval(fmt.Sprintf(`document.querySelector(%q) ? "yes" : "no"`, sel)) == "yes"
}
