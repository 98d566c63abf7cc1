package admin

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
	"github.com/flagon/flagon/flagontest"
)

// demoDefs are the flags the tests start from: the articles' scenario and
// one flag of each kind the pages treat differently.
func demoDefs() flagon.Definitions {
	return flagon.Definitions{
		Audiences: []flagon.Audience{
			{Name: "staff", Description: "employees", Clauses: []flagon.Clause{{Attribute: "is_staff", Op: flagon.OpEquals, Values: []any{true}}}},
			{Name: "beta", Clauses: []flagon.Clause{{Attribute: "beta", Op: flagon.OpEquals, Values: []any{true}}}},
		},
		Flags: []flagon.Flag{
			{Key: "new-home-page", Description: "Expose the new home page", Owner: "web", Tags: []string{"web", "launch"}},
			{Key: "use-new-email-service", Description: "Send registration emails through the new service", Owner: "growth", Tags: []string{"email"}},
			{Key: "checkout", Description: "Which checkout flow", Owner: "payments", Type: flagon.TypeString, Tags: []string{"web"},
				Variants:    []flagon.Variant{{Name: "classic", Value: "classic"}, {Name: "express", Value: "express"}},
				Rules:       []flagon.Rule{{ID: "staff-first", Audiences: []string{"staff"}, Serve: flagon.Serve{Variant: "express"}}},
				Fallthrough: flagon.Serve{Split: []flagon.Split{{Variant: "express", Percent: 10}, {Variant: "classic", Percent: 90}}}},
			{Key: "max-items", Description: "Items per page", Owner: "web", Type: flagon.TypeInt,
				Variants: []flagon.Variant{{Name: "few", Value: 10}, {Name: "many", Value: 50}}},
			{Key: "ops-maintenance", Description: "Kill switch for maintenance mode", Owner: "ops",
				Override: flagon.OverridePolicy{Who: flagon.WhoNone}},
		},
	}
}

// testKeys are the signing keys the console and the demo app share.
var testKeys = flagonhttp.MustKeys(flagonhttp.Key{ID: "t1", Secret: []byte("0123456789abcdef0123456789abcdef")})

// harness is a console mounted at /admin/ next to a demo page at /, as
// flagon serve mounts them.
type harness struct {
	t       testing.TB
	store   *flagontest.MemoryStore // nil when read-only
	src     flagon.Source
	client  *flagon.Client
	console *Console
	httpOpt *flagonhttp.Options
	srv     *httptest.Server
}

type harnessOptions struct {
	readOnly   bool
	production bool
	prefix     string // where the console is mounted; default "/admin"
	authorize  func(*http.Request) (Principal, error)
	signIn     http.Handler
	noAuth     bool
	noContext  bool             // the application builds no evaluation context
	usage      bool             // give the console the store's usage counts
	now        func() time.Time // the console's clock; nil is time.Now
	// store, if set, is the store to use instead of a new one; users
	// gives the console its users (Options.Users).
	store *flagontest.MemoryStore
	users bool
	// links are Options.EnvironmentLinks: a console of a server with
	// several environments.
	links []EnvironmentLink
	// protected protects the console's environment, with the store's
	// change requests.
	protected bool
}

func newHarness(t testing.TB, ho harnessOptions) *harness {
	t.Helper()
	h := &harness{t: t}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	env := "development"
	if ho.production {
		env = "production"
	}
	if ho.readOnly {
		src, err := flagon.NewMemorySource(demoDefs(), env)
		if err != nil {
			t.Fatal(err)
		}
		h.src = src
	} else {
		h.store = ho.store
		if h.store == nil {
			h.store = flagontest.NewMemoryStore()
		}
		seed(t, h.store, demoDefs())
		src, err := flagon.NewStoreSource(ctx, h.store, &flagon.StoreSourceOptions{Environment: env, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { src.Close() })
		h.src = src
	}
	h.client = flagon.NewClient(h.src, &flagon.Options{Logger: quietLogger()})
	t.Cleanup(h.client.Close)
	h.httpOpt = &flagonhttp.Options{
		Keys:   testKeys,
		Logger: quietLogger(),
		Context: func(r *http.Request) flagon.EvalContext {
			return flagon.EvalContext{Key: "visitor-1", Attrs: map[string]any{"is_staff": false}}
		},
	}
	if ho.noContext {
		h.httpOpt.Context = nil
	}
	opts := &Options{
		Client:       h.client,
		Overrides:    h.httpOpt,
		Environment:  env,
		Production:   ho.production,
		Logger:       quietLogger(),
		ReadOnlyNote: "flags come from the config file flags.yaml; edit it and it reloads",
	}
	opts.Now = ho.now
	opts.EnvironmentLinks = ho.links
	if ho.usage {
		if h.store == nil {
			h.store = flagontest.NewMemoryStore()
		}
		opts.Usage = h.store
	}
	if h.store != nil && !ho.readOnly {
		opts.Store, opts.Audit, opts.UserOverrides, opts.ShareTokens = h.store, h.store, h.store, h.store
		h.httpOpt.UserOverrides = UserOverrides(h.store, headerAuth)
		h.httpOpt.TokenRevoked = flagonhttp.TokenRevokedIn(h.store)
		if ho.users {
			opts.Users = h.store
		}
		opts.Schedules = h.store
		if ho.protected {
			opts.ChangeRequests, opts.ProtectedEnvironments = h.store, []string{env}
		}
	}
	switch {
	case ho.noAuth:
	case ho.authorize != nil:
		opts.Authorize, opts.SignIn = ho.authorize, ho.signIn
	default:
		opts.Authorize = headerAuth
	}
	h.console = Handler(opts)
	prefix := ho.prefix
	if prefix == "" {
		prefix = "/admin"
	}
	mux := http.NewServeMux()
	if prefix == "/" {
		mux.Handle("/", h.console)
	} else {
		mux.Handle(prefix+"/", http.StripPrefix(prefix, h.console))
		demo := flagonhttp.Middleware(h.client, h.httpOpt)(http.HandlerFunc(demoPage(h.client)))
		mux.Handle("/", demo)
		flagonhttp.Mount(mux, h.client, h.httpOpt)
	}
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	return h
}

// demoPage is the example page: it says what the flags give this request.
func demoPage(c *flagon.Client) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		home := "the old home page"
		if c.Bool(r.Context(), "new-home-page", false) {
			home = "the NEW home page"
		}
		fmt.Fprintf(w, "<!doctype html><title>Demo</title><h1 id=home>%s</h1><p id=checkout>checkout: %s</p><p id=items>items: %d</p>",
			home, c.String(r.Context(), "checkout", "?"), c.Int(r.Context(), "max-items", 0))
	}
}

// headerAuth is the tests' Authorize: the X-Test-User header names the
// user and role ("ann:editor").
func headerAuth(r *http.Request) (Principal, error) {
	v := r.Header.Get("X-Test-User")
	if v == "" {
		return Principal{}, ErrUnauthenticated
	}
	name, role, _ := strings.Cut(v, ":")
	ro, ok := ParseRole(role)
	if !ok {
		return Principal{Name: name}, nil
	}
	return Principal{Name: name, Role: ro}, nil
}

func seed(t testing.TB, s flagon.Store, defs flagon.Definitions) {
	t.Helper()
	ctx := context.Background()
	for _, a := range defs.Audiences {
		if _, err := s.PutAudience(ctx, a, 0, flagon.Change{Actor: "seed"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range defs.Flags {
		if _, err := s.PutFlag(ctx, f, 0, flagon.Change{Actor: "seed"}); err != nil {
			t.Fatalf("seed %s: %v", f.Key, err)
		}
	}
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// browser is an HTTP client with a cookie jar, acting as one user.
type browser struct {
	h    *harness
	c    *http.Client
	user string // X-Test-User
	last string // the last page's body
}

func (h *harness) browser(user string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{h: h, user: user, c: &http.Client{
		Jar:     jar,
		Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// response is what a request got.
type response struct {
	status   int
	body     string
	location string
	header   http.Header
}

func (b *browser) do(req *http.Request) response {
	b.h.t.Helper()
	if b.user != "" {
		req.Header.Set("X-Test-User", b.user)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.h.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, body: string(body), location: resp.Header.Get("Location"), header: resp.Header}
}

// get fetches a path of the test server.
func (b *browser) get(path string) response {
	b.h.t.Helper()
	req, _ := http.NewRequest("GET", b.h.srv.URL+path, nil)
	r := b.do(req)
	if r.status == http.StatusOK {
		b.last = r.body
	}
	return r
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// token returns the form token of the last page fetched.
func (b *browser) token() string {
	b.h.t.Helper()
	m := csrfRe.FindStringSubmatch(b.last)
	if m == nil {
		b.h.t.Fatalf("no form token in the last page")
	}
	return html.UnescapeString(m[1])
}

// post submits a form (with the last page's token, unless the form has
// one) from the same origin.
func (b *browser) post(path string, form url.Values) response {
	b.h.t.Helper()
	if !form.Has("csrf") {
		form.Set("csrf", b.token())
	}
	req, _ := http.NewRequest("POST", b.h.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.h.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	r := b.do(req)
	if r.status == http.StatusOK || r.status == http.StatusBadRequest || r.status == http.StatusConflict {
		b.last = r.body
	}
	return r
}

// follow fetches where a redirect points.
func (b *browser) follow(r response) response {
	b.h.t.Helper()
	if r.status != http.StatusSeeOther && r.status != http.StatusFound {
		b.h.t.Fatalf("want a redirect, got %d: %s", r.status, snippet(r.body))
	}
	u, err := url.Parse(r.location)
	if err != nil {
		b.h.t.Fatal(err)
	}
	return b.get(u.RequestURI())
}

// waitFor waits until the client's snapshot satisfies ok.
func (h *harness) waitFor(ok func(*flagon.Snapshot) bool) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := flagon.WaitFor(ctx, h.src, ok); err != nil {
		h.t.Fatalf("snapshot never changed as expected: %v", err)
	}
	// The client swaps the snapshot in from the same notification; wait
	// for it too.
	for !ok(h.client.Snapshot()) {
		select {
		case <-ctx.Done():
			h.t.Fatal("client never saw the snapshot")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func snippet(s string) string {
	if i := strings.Index(s, `<main`); i >= 0 {
		s = s[i:]
	}
	if len(s) > 1500 {
		s = s[:1500] + "…"
	}
	return s
}

// mustContain fails unless body holds every want.
func mustContain(t *testing.T, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q:\n%s", w, snippet(body))
		}
	}
}

func mustNotContain(t *testing.T, body string, nots ...string) {
	t.Helper()
	for _, n := range nots {
		if strings.Contains(body, n) {
			t.Errorf("page has %q:\n%s", n, snippet(body))
		}
	}
}

var errTest = errors.New("test failure")
