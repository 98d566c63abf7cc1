package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagontest"
	"github.com/flagon/flagon/remote"
	"github.com/flagon/flagon/server"
)

// The credentials of the three-environment server: an OFREP key and a
// read-only API token per environment, and a token for all of them.
var (
	envKeys   = map[string]string{"development": "dev-key-0123456789", "staging": "stage-key-0123456789", "production": "prod-key-0123456789"}
	envTokens = map[string]string{"development": "dev-token-0123456789", "staging": "stage-token-0123456789", "production": "prod-token-0123456789"}
	allToken  = "all-token-0123456789"
	// wantBanner is what each environment serves of the flag "banner".
	wantBanner = map[string]string{"development": "dev", "staging": "stage", "production": "prod"}
)

// threeEnvironments serves development, staging and production from one
// server over st, with the flag "banner" serving a different value in
// each (production by the flag's own settings).
func threeEnvironments(t *testing.T, st server.Store) (*server.Server, *httptest.Server) {
	t.Helper()
	ctx := context.Background()
	dev, stage := "dev", "stage"
	banner := flagon.Flag{Key: "banner", Type: flagon.TypeString, Default: "prod",
		Variants:     []flagon.Variant{{Name: "dev", Value: "dev"}, {Name: "stage", Value: "stage"}, {Name: "prod", Value: "prod"}},
		Environments: map[string]flagon.EnvSettings{"development": {Default: &dev}, "staging": {Default: &stage}}}
	if _, err := st.PutFlag(ctx, banner, 0, flagon.Change{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	opts := &server.Options{
		Environments: []server.Environment{{Name: "development"}, {Name: "staging"}, {Name: "production", Production: true}},
		APITokens:    []server.APIToken{{Name: "all", Secret: allToken, Environment: server.AllEnvironments}},
		Logger:       quiet,
	}
	for _, env := range []string{"development", "staging", "production"} {
		opts.EnvironmentKeys = append(opts.EnvironmentKeys, server.OFREPKey{Environment: env, Key: envKeys[env]})
		opts.APITokens = append(opts.APITokens, server.APIToken{Name: env + "-app", Secret: envTokens[env], ReadOnly: true, Environment: env})
	}
	srv, ts := serveStore(t, st, opts)
	return srv, ts
}

// bannerAt evaluates "banner" at url with key, returning the status and
// the value.
func bannerAt(t *testing.T, url, key string) (int, string) {
	t.Helper()
	code, _, body := do(t, "POST", url+"/ofrep/v1/evaluate/flags/banner", key, `{"context":{"targetingKey":"u1"}}`, "Content-Type", "application/json")
	var res struct {
		Value string `json:"value"`
	}
	if code == 200 {
		if err := json.Unmarshal([]byte(body), &res); err != nil {
			t.Fatalf("OFREP body %q: %v", body, err)
		}
	}
	return code, res.Value
}

// TestThreeEnvironments is one server serving development, staging and
// production to three applications with three scoped keys, on SQLite and
// on PostgreSQL: each sees its own environment's values, by path prefix
// or by its credential alone; a key or token for one environment is
// refused on another.
func TestThreeEnvironments(t *testing.T) {
	eachStore(t, threeEnvironmentsServe)
}

func threeEnvironmentsServe(t *testing.T, st server.Store) {
	_, ts := threeEnvironments(t, st)
	envs := []string{"development", "staging", "production"}
	for _, env := range envs {
		prefixed := ts.URL + "/env/" + env
		if code, got := bannerAt(t, prefixed, envKeys[env]); code != 200 || got != wantBanner[env] {
			t.Errorf("%s key at %s: %d %q, want 200 %q", env, prefixed, code, got, wantBanner[env])
		}
		if code, got := bannerAt(t, ts.URL, envKeys[env]); code != 200 || got != wantBanner[env] {
			t.Errorf("%s key, unprefixed: %d %q, want 200 %q (the key's environment)", env, code, got, wantBanner[env])
		}
		for _, other := range envs {
			if other == env {
				continue
			}
			if code, _ := bannerAt(t, ts.URL+"/env/"+other, envKeys[env]); code != http.StatusForbidden {
				t.Errorf("%s key on %s: %d, want 403", env, other, code)
			}
			if code, _, body := do(t, "GET", ts.URL+"/env/"+other+remote.SnapshotPath, envTokens[env], ""); code != http.StatusForbidden || !strings.Contains(body, env) {
				t.Errorf("%s token on the %s snapshot: %d %s, want 403 naming %s", env, other, code, body, env)
			}
		}
		if code, _ := bannerAt(t, prefixed, ""); code != http.StatusUnauthorized {
			t.Errorf("%s without a key: %d, want 401", env, code)
		}
		// /features.json is per environment: by prefix; unprefixed, the
		// default one.
		code, _, body := do(t, "GET", prefixed+"/features.json", "", "")
		if code != 200 || !strings.Contains(body, `"`+wantBanner[env]+`"`) {
			t.Errorf("%s /features.json = %d %s", env, code, body)
		}
		// The snapshot shows the environment's settings alone.
		code, hdr, body := do(t, "GET", prefixed+remote.SnapshotPath, envTokens[env], "")
		if code != 200 || hdr.Get(remote.EnvironmentHeader) != env || strings.Contains(body, "environments") {
			t.Errorf("%s snapshot = %d %q %s; want 200, its environment and no other's settings", env, code, hdr.Get(remote.EnvironmentHeader), body)
		}
	}
	if code, _, body := do(t, "GET", ts.URL+"/features.json", "", ""); code != 200 || !strings.Contains(body, `"dev"`) {
		t.Errorf("unprefixed /features.json = %d %s, want development's", code, body)
	}
	if code, _, _ := do(t, "GET", ts.URL+"/env/qa/features.json", "", ""); code != http.StatusNotFound {
		t.Errorf("an environment not served: %d, want 404", code)
	}
	// The REST API holds every environment's settings: a token for one is
	// refused, one for all reaches it.
	if code, _, body := do(t, "GET", ts.URL+"/api/v1/flags", envTokens["staging"], ""); code != http.StatusForbidden || !strings.Contains(body, "staging") {
		t.Errorf("staging token on the REST API: %d %s, want 403", code, body)
	}
	if code, _, _ := do(t, "GET", ts.URL+"/api/v1/flags", allToken, ""); code != 200 {
		t.Errorf("token for all environments on the REST API: %d, want 200", code)
	}
	// Usage reports are for the token's environment.
	hour := time.Now().UTC().Truncate(time.Hour).Format(time.RFC3339)
	report := func(env string) string {
		return `{"app":"shop","environment":"` + env + `","counts":[{"hour":"` + hour + `","flag":"banner","variant":"stage","count":3}]}`
	}
	if code, _, body := do(t, "POST", ts.URL+"/api/v1/usage", envTokens["staging"], report("production"), "Content-Type", "application/json"); code != http.StatusForbidden || !strings.Contains(body, "environment") {
		t.Errorf("staging token reporting production usage: %d %s, want 403 naming the field", code, body)
	}
	if code, _, body := do(t, "POST", ts.URL+"/env/staging/api/v1/usage", envTokens["staging"], report(""), "Content-Type", "application/json"); code != http.StatusAccepted {
		t.Errorf("staging token reporting usage: %d %s, want 202", code, body)
	}
	rows, err := st.Usage(context.Background(), flagon.UsageQuery{Flag: "banner", App: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Environment != "staging" || rows[0].Count != 3 {
		t.Errorf("usage rows = %+v, want 3 in staging", rows)
	}
}

// TestThreeEnvironmentsFollowers follows each environment of one server
// with a remote source holding that environment's token (three
// applications), and changes staging through the REST API: only the
// staging application sees the change.
func TestThreeEnvironmentsFollowers(t *testing.T) {
	st := openSQLite(t)
	_, ts := threeEnvironments(t, st)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clients := map[string]*flagon.Client{}
	for _, env := range []string{"development", "staging", "production"} {
		// The staging application names only its token: the server
		// serves it staging's snapshot at the unprefixed paths.
		base := ts.URL + "/env/" + env
		if env == "staging" {
			base = ts.URL
		}
		src, err := remote.New(ctx, base, &remote.Options{Stream: true, PollInterval: time.Hour, Token: envTokens[env], Logger: quiet, UsageInterval: -1})
		if err != nil {
			t.Fatalf("%s: %v", env, err)
		}
		defer src.Close()
		clients[env] = flagon.NewClient(src, nil)
		defer clients[env].Close()
	}
	got := func() map[string]string {
		out := map[string]string{}
		for env, c := range clients {
			out[env] = c.String(ctx, "banner", "none")
		}
		return out
	}
	if g := got(); !reflect.DeepEqual(g, wantBanner) {
		t.Fatalf("values = %v, want %v", g, wantBanner)
	}
	flag := `{"type":"string","variants":[{"name":"dev","value":"dev"},{"name":"stage","value":"stage"},{"name":"prod","value":"prod"}],"default":"prod",
		"environments":{"development":{"default":"dev"},"staging":{"default":"prod"}}}`
	if code, _, body := do(t, "PUT", ts.URL+"/api/v1/flags/banner", allToken, flag, "If-Match", `"1"`, "Content-Type", "application/json"); code != 200 {
		t.Fatalf("change staging: %d %s", code, body)
	}
	if _, err := flagon.WaitFor(ctx, clients["staging"].Source(), func(s *flagon.Snapshot) bool {
		defs := s.Definitions()
		f, _ := defs.Flag("banner")
		return f.Default == "prod"
	}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"development": "dev", "staging": "prod", "production": "prod"}
	if g := got(); !reflect.DeepEqual(g, want) {
		t.Errorf("after the change: %v, want %v", g, want)
	}
}

// TestEnvironmentsOldCredentials shows that the credentials of a server
// that served one environment (tokens and OFREP keys that name none) keep
// working when it serves several, for the default environment only.
func TestEnvironmentsOldCredentials(t *testing.T) {
	st := openSQLite(t)
	if _, err := st.PutFlag(context.Background(), flagon.Flag{Key: "banner", Type: flagon.TypeBool, Default: "off",
		Environments: map[string]flagon.EnvSettings{"staging": {Default: ptr("on")}}}, 0, flagon.Change{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	// What a single-environment server was configured with, parsed as
	// FLAGON_API_TOKENS and FLAGON_OFREP_KEYS were.
	tokens, err := server.ParseAPITokens("app:old-token-0123456789:ro")
	if err != nil {
		t.Fatal(err)
	}
	envs, err := server.ParseEnvironments("staging,production")
	if err != nil {
		t.Fatal(err)
	}
	keys := server.ParseOFREPKeys("old-ofrep-key-0123", envs)
	_, ts := serveStore(t, st, &server.Options{Environment: "staging", Environments: envs,
		APITokens: tokens, EnvironmentKeys: keys, Logger: quiet})
	if !envs[1].Production {
		t.Errorf("production is not production-like: %+v", envs)
	}
	for _, path := range []string{"", "/env/staging"} {
		if code, hdr, _ := do(t, "GET", ts.URL+path+remote.SnapshotPath, "old-token-0123456789", ""); code != 200 || hdr.Get(remote.EnvironmentHeader) != "staging" {
			t.Errorf("old token at %q: %d %q, want staging's snapshot", path, code, hdr.Get(remote.EnvironmentHeader))
		}
		code, _, body := do(t, "POST", ts.URL+path+"/ofrep/v1/evaluate/flags/banner", "old-ofrep-key-0123", `{"context":{"targetingKey":"u1"}}`, "Content-Type", "application/json")
		if code != 200 || !strings.Contains(body, `"value":true`) {
			t.Errorf("old OFREP key at %q: %d %s, want staging's value", path, code, body)
		}
	}
	if code, _, _ := do(t, "GET", ts.URL+"/env/production"+remote.SnapshotPath, "old-token-0123456789", ""); code != http.StatusForbidden {
		t.Errorf("old token on production: %d, want 403", code)
	}
	if code, _, _ := do(t, "POST", ts.URL+"/env/production/ofrep/v1/evaluate/flags/banner", "old-ofrep-key-0123", `{}`, "Content-Type", "application/json"); code != http.StatusUnauthorized && code != http.StatusForbidden {
		t.Errorf("old OFREP key on production: %d, want 401 or 403", code)
	}
}

func ptr[T any](v T) *T { return &v }

// TestEnvironmentsRefused lists configurations New refuses, each with
// an error naming what is wrong.
func TestEnvironmentsRefused(t *testing.T) {
	envs := []server.Environment{{Name: "staging"}, {Name: "production"}}
	for _, tc := range []struct {
		name string
		opts server.Options
		want string
	}{
		{"bad name", server.Options{Environments: []server.Environment{{Name: "Staging"}}}, `"Staging"`},
		{"twice", server.Options{Environments: []server.Environment{{Name: "a"}, {Name: "a"}}}, "twice"},
		{"default not served", server.Options{Environment: "qa", Environments: envs}, `"qa"`},
		{"token for another", server.Options{Environments: envs, APITokens: []server.APIToken{{Name: "t", Secret: token, Environment: "qa"}}}, `"qa"`},
		{"key for another", server.Options{Environments: envs, EnvironmentKeys: []server.OFREPKey{{Environment: "qa", Key: "k"}}}, `"qa"`},
		{"demo", server.Options{Environments: envs, Demo: true}, "demo"},
	} {
		opts := tc.opts
		opts.Logger = quiet
		srv, err := server.New(context.Background(), flagontest.NewMemoryStore(), &opts)
		if err == nil {
			srv.Close()
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want it to name %s", tc.name, err, tc.want)
		}
	}
}

func TestParseAPITokensEnvironment(t *testing.T) {
	got, err := server.ParseAPITokens("a:0123456789abcdef, b:0123456789abcdef:ro:staging, c:0123456789abcdef:rw:*, d:0123456789abcdef::production")
	if err != nil {
		t.Fatal(err)
	}
	want := []server.APIToken{
		{Name: "a", Secret: "0123456789abcdef"},
		{Name: "b", Secret: "0123456789abcdef", ReadOnly: true, Environment: "staging"},
		{Name: "c", Secret: "0123456789abcdef", Environment: "*"},
		{Name: "d", Secret: "0123456789abcdef", Environment: "production"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	for _, bad := range []string{"a:0123456789abcdef:ro:Prod", "a:0123456789abcdef:rx:prod", "a:0123456789abcdef:ro:p:q"} {
		if _, err := server.ParseAPITokens(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
