package ofrep_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/ofrep"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// testDefs are the flags the tests evaluate: one of each type, a rule, a
// split, a kill switch.
func testDefs() flagon.Definitions {
	return flagon.Definitions{
		Audiences: []flagon.Audience{{Name: "staff", Clauses: []flagon.Clause{{Attribute: "is_staff", Op: flagon.OpEquals, Values: []any{true}}}}},
		Flags: []flagon.Flag{
			{
				Key:      "new-home-page",
				Rules:    []flagon.Rule{{ID: "staff-first", Audiences: []string{"staff"}, Serve: flagon.Serve{Variant: "on"}}},
				Metadata: map[string]string{"owner": "web", "override": "reserved"},
			},
			{
				Key:  "checkout",
				Type: flagon.TypeString,
				Variants: []flagon.Variant{
					{Name: "express", Value: "express"}, {Name: "classic", Value: "classic"},
				},
				Fallthrough: flagon.Serve{Split: []flagon.Split{{Variant: "express", Percent: 50}, {Variant: "classic", Percent: 50}}},
			},
			{Key: "limit", Type: flagon.TypeInt, Variants: []flagon.Variant{{Name: "ten", Value: 10}, {Name: "twenty", Value: 20}}},
			{Key: "ratio", Type: flagon.TypeFloat, Variants: []flagon.Variant{{Name: "quarter", Value: 0.25}}},
			{Key: "theme", Type: flagon.TypeObject, Variants: []flagon.Variant{{Name: "blue", Value: map[string]any{"color": "blue", "size": 2}}}},
			{Key: "kill", Default: "on", Disabled: true, Rules: []flagon.Rule{{Audiences: []string{"staff"}, Serve: flagon.Serve{Variant: "off"}}}},
			{Key: "quote", Type: flagon.TypeString, Variants: []flagon.Variant{{Name: "odd", Value: "a \"quoted\" <tag> & \u2028 \x01 é"}}},
		},
	}
}

// newClient returns a client over a memory source holding defs.
func newClient(t testing.TB, defs flagon.Definitions) (*flagon.Client, *flagon.MemorySource) {
	t.Helper()
	src, err := flagon.NewMemorySource(defs, "")
	if err != nil {
		t.Fatal(err)
	}
	c := flagon.NewClient(src, &flagon.Options{Logger: discard})
	t.Cleanup(c.Close)
	return c, src
}

// post sends a POST to h in process.
func post(h http.Handler, path, body string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// checkResponse checks a response's status and, for each status, its body
// against the protocol's schema, and returns the decoded body.
func checkResponse(t testing.TB, w *httptest.ResponseRecorder, bulk bool) map[string]any {
	t.Helper()
	body := w.Body.Bytes()
	switch w.Code {
	case http.StatusOK:
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q, want application/json", ct)
		}
		if bulk {
			return checkSchema(t, body, "bulkEvaluationSuccess")
		}
		return checkSchema(t, body, "evaluationSuccess")
	case http.StatusBadRequest:
		if bulk {
			return checkSchema(t, body, "bulkEvaluationFailure")
		}
		return checkSchema(t, body, "evaluationFailure")
	case http.StatusNotFound:
		return checkSchema(t, body, "flagNotFound")
	case http.StatusInternalServerError:
		return checkSchema(t, body, "generalErrorResponse")
	case http.StatusNotModified, http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests:
		if len(body) != 0 {
			t.Errorf("status %d has a body: %s", w.Code, body)
		}
		if w.Code == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
			t.Errorf("429 without Retry-After")
		}
		return nil
	}
	t.Fatalf("unexpected status %d: %s", w.Code, body)
	return nil
}

func TestSingle(t *testing.T) {
	client, _ := newClient(t, testDefs())
	h := ofrep.Handler(client, &ofrep.Options{Logger: discard})
	tests := []struct {
		name, key, body string
		status          int
		want            map[string]any // fields of the response, compared as JSON text
	}{
		{"rule matches", "new-home-page", `{"context":{"targetingKey":"u1","is_staff":true}}`, 200,
			map[string]any{"key": "new-home-page", "value": true, "variant": "on", "reason": "TARGETING_MATCH", "metadata": map[string]any{"owner": "web", "ruleId": "staff-first"}}},
		{"no rule matches", "new-home-page", `{"context":{"targetingKey":"u1","is_staff":false}}`, 200,
			map[string]any{"value": false, "variant": "off", "reason": "DEFAULT", "metadata": map[string]any{"owner": "web"}}},
		{"no context", "new-home-page", `{}`, 200, map[string]any{"value": false, "reason": "DEFAULT"}},
		{"empty body", "limit", ``, 200, map[string]any{"value": 10, "variant": "ten", "reason": "STATIC"}},
		{"null context", "limit", `{"context":null}`, 200, map[string]any{"value": 10}},
		{"float", "ratio", `{"context":{}}`, 200, map[string]any{"value": 0.25, "reason": "STATIC"}},
		{"object", "theme", `{"context":{}}`, 200, map[string]any{"value": map[string]any{"color": "blue", "size": 2}}},
		{"escaped string", "quote", `{}`, 200, map[string]any{"value": "a \"quoted\" <tag> & \u2028 \x01 é"}},
		{"disabled", "kill", `{"context":{"is_staff":true}}`, 200, map[string]any{"value": true, "reason": "DISABLED"}},
		{"split", "checkout", `{"context":{"targetingKey":"user-42"}}`, 200, map[string]any{"reason": "SPLIT"}},
		{"split without targeting key", "checkout", `{"context":{"country":"NL"}}`, 400,
			map[string]any{"key": "checkout", "errorCode": "TARGETING_KEY_MISSING"}},
		{"unknown flag", "nope", `{"context":{}}`, 404, map[string]any{"key": "nope", "errorCode": "FLAG_NOT_FOUND"}},
		{"bad JSON", "limit", `{"context":`, 400, map[string]any{"key": "limit", "errorCode": "PARSE_ERROR"}},
		{"body not an object", "limit", `[1,2]`, 400, map[string]any{"errorCode": "PARSE_ERROR"}},
		{"context a string", "limit", `{"context":"u1"}`, 400, map[string]any{"errorCode": "INVALID_CONTEXT", "errorDetails": "context: want a JSON object, got a string"}},
		{"context an array", "limit", `{"context":[]}`, 400, map[string]any{"errorCode": "INVALID_CONTEXT"}},
		{"targetingKey a number", "limit", `{"context":{"targetingKey":7}}`, 400,
			map[string]any{"errorCode": "INVALID_CONTEXT", "errorDetails": "context.targetingKey: want a string, got a number"}},
		{"body too large", "limit", `{"context":{"x":"` + strings.Repeat("a", ofrep.DefaultMaxBodyBytes) + `"}}`, 400, map[string]any{"errorCode": "PARSE_ERROR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := post(h, ofrep.EvaluatePath+"/"+tt.key, tt.body)
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			got := checkResponse(t, w, false)
			for k, want := range tt.want {
				if g, w := jsonText(got[k]), jsonText(want); g != w {
					t.Errorf("%s = %s, want %s", k, g, w)
				}
			}
		})
	}
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// ofrepReason is the reason the protocol reports for a flagon reason.
func ofrepReason(r flagon.Reason) string {
	if r == flagon.ReasonOverride {
		return "TARGETING_MATCH"
	}
	return string(r)
}

// TestSameAsClient checks that OFREP gives every flag the value, variant
// and reason the flagon client gives, for many contexts, with and without
// overrides.
func TestSameAsClient(t *testing.T) {
	client, _ := newClient(t, testDefs())
	ov := flagon.OverrideMap{
		"new-home-page": {Value: true, Source: "cookie"},
		"checkout":      {Value: "classic", Source: "user"},
	}
	for _, withOverrides := range []bool{false, true} {
		opts := &ofrep.Options{Logger: discard}
		var o flagon.Overrides
		if withOverrides {
			o = ov
			opts.Overrides = func(*http.Request) flagon.Overrides { return ov }
		}
		h := ofrep.Handler(client, opts)
		for i := range 50 {
			ec := flagon.EvalContext{Key: "user-" + string(rune('a'+i%26)) + itoa(i), Attrs: map[string]any{"is_staff": i%3 == 0}}
			body := `{"context":{"targetingKey":"` + ec.Key + `","is_staff":` + jsonText(ec.Attrs["is_staff"]) + `}}`
			ctx := flagon.WithScope(context.Background(), ec, o)
			for _, key := range client.Snapshot().Keys() {
				want := client.Evaluate(ctx, key)
				w := post(h, ofrep.EvaluatePath+"/"+key, body)
				got := checkResponse(t, w, false)
				if jsonText(got["value"]) != jsonText(want.Value) || got["variant"] != nil && got["variant"] != want.Variant ||
					got["reason"] != ofrepReason(want.Reason) {
					t.Errorf("%s for %v (overrides %v): OFREP %v, client %+v", key, ec, withOverrides, got, want)
				}
				if md, _ := got["metadata"].(map[string]any); (md["override"] == true) != (want.Reason == flagon.ReasonOverride) ||
					want.Reason == flagon.ReasonOverride && md["overrideSource"] != want.OverrideSource {
					t.Errorf("%s: metadata %v, client says %s from %q", key, md, want.Reason, want.OverrideSource)
				}
			}
		}
	}
}

func itoa(i int) string { return jsonText(i) }

func TestOverrides(t *testing.T) {
	client, _ := newClient(t, testDefs())
	body := `{"context":{"targetingKey":"u1"}}`
	t.Run("hook", func(t *testing.T) {
		h := ofrep.Handler(client, &ofrep.Options{Overrides: func(r *http.Request) flagon.Overrides {
			if r.Header.Get("X-Test-Override") == "" {
				return nil
			}
			return flagon.OverrideMap{"new-home-page": {Value: true, Source: "header"}}
		}})
		got := checkResponse(t, post(h, ofrep.EvaluatePath+"/new-home-page", body, "X-Test-Override", "1"), false)
		want := `{"key":"new-home-page","metadata":{"override":true,"overrideSource":"header","owner":"web"},"reason":"TARGETING_MATCH","value":true,"variant":"on"}`
		if jsonText(got) != want {
			t.Errorf("with override: %s, want %s", jsonText(got), want)
		}
		got = checkResponse(t, post(h, ofrep.EvaluatePath+"/new-home-page", body), false)
		if got["value"] != false || got["reason"] != "DEFAULT" {
			t.Errorf("without override: %v", got)
		}
	})
	t.Run("from the request context", func(t *testing.T) {
		h := ofrep.Handler(client, nil)
		mw := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			o := flagon.OverrideMap{"limit": {Value: int64(20), Source: "cookie"}}
			h.ServeHTTP(w, r.WithContext(flagon.WithOverrides(r.Context(), o)))
		})
		got := checkResponse(t, post(mw, ofrep.EvaluatePath+"/limit", body), false)
		if jsonText(got["value"]) != "20" || got["variant"] != "twenty" || got["reason"] != "TARGETING_MATCH" {
			t.Errorf("got %v", got)
		}
	})
}

func TestBulk(t *testing.T) {
	client, src := newClient(t, testDefs())
	var ov flagon.OverrideMap
	h := ofrep.Handler(client, &ofrep.Options{
		Logger:          discard,
		InactivityDelay: 90e9,
		Overrides:       func(*http.Request) flagon.Overrides { return ov },
	})
	path := ofrep.EvaluatePath
	body := `{"context":{"targetingKey":"u1","is_staff":true}}`

	w := post(h, path, body)
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	got := checkResponse(t, w, true)
	flags := got["flags"].([]any)
	if len(flags) != len(testDefs().Flags) {
		t.Fatalf("%d flags, want %d", len(flags), len(testDefs().Flags))
	}
	ctx := flagon.WithEvalContext(context.Background(), flagon.EvalContext{Key: "u1", Attrs: map[string]any{"is_staff": true}})
	for i, res := range slices.All(slices.Collect(client.All(ctx))) {
		f := flags[i].(map[string]any)
		if f["key"] != res.Key || jsonText(f["value"]) != jsonText(res.Value) || f["reason"] != ofrepReason(res.Reason) {
			t.Errorf("flags[%d] = %v, client says %+v", i, f, res)
		}
	}
	sum := sha256.Sum256([]byte(body))
	for _, name := range []string{"eventStreams", "refreshConnections"} {
		rc := jsonText(got[name])
		if want := `[{"inactivityDelaySec":90,"type":"sse","url":"http://example.com/ofrep/v1/events?context=` + hex.EncodeToString(sum[:16]) + `"}]`; rc != want {
			t.Errorf("%s = %s, want %s", name, rc, want)
		}
	}
	etag := w.Header().Get("ETag")
	if etag == "" || etag[0] != '"' {
		t.Fatalf("ETag = %q", etag)
	}

	// Unchanged: 304, in every spelling of If-None-Match.
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		w := post(h, path, body, "If-None-Match", inm)
		if w.Code != http.StatusNotModified {
			t.Errorf("If-None-Match %s: status %d, want 304", inm, w.Code)
		}
		checkResponse(t, w, true)
		if w.Header().Get("ETag") != etag {
			t.Errorf("304 ETag = %q, want %q", w.Header().Get("ETag"), etag)
		}
	}

	// Another context, new overrides, new flags: 200 with a new ETag.
	seen := map[string]string{etag: "first"}
	step := func(name, body string) {
		t.Helper()
		w := post(h, path, body, "If-None-Match", etag)
		if w.Code != 200 {
			t.Fatalf("%s: status %d, want 200", name, w.Code)
		}
		checkResponse(t, w, true)
		e := w.Header().Get("ETag")
		if prev, dup := seen[e]; dup {
			t.Errorf("%s: ETag %s repeats that of %s", name, e, prev)
		}
		seen[e] = name
	}
	step("another context", `{"context":{"targetingKey":"u2","is_staff":true}}`)
	ov = flagon.OverrideMap{"limit": {Value: int64(20), Source: "cookie"}}
	step("an override", body)
	ov = flagon.OverrideMap{"limit": {Value: int64(10), Source: "cookie"}}
	step("another override", body)
	ov = nil
	defs := testDefs()
	defs.Flags[2].Variants[0].Value = 11
	if err := src.Set(defs); err != nil {
		t.Fatal(err)
	}
	step("changed flags", body)
}

func TestBulkPerFlagFailure(t *testing.T) {
	client, _ := newClient(t, testDefs())
	h := ofrep.Handler(client, &ofrep.Options{DisableEvents: true})
	w := post(h, ofrep.EvaluatePath, `{"context":{"is_staff":true}}`)
	got := checkResponse(t, w, true)
	if _, ok := got["refreshConnections"]; ok {
		t.Errorf("refreshConnections announced with events disabled")
	}
	if _, ok := got["eventStreams"]; ok {
		t.Errorf("eventStreams announced with events disabled")
	}
	for _, f := range got["flags"].([]any) {
		f := f.(map[string]any)
		if f["key"] == "checkout" {
			if f["errorCode"] != "TARGETING_KEY_MISSING" {
				t.Errorf("checkout without a targeting key: %v", f)
			}
		} else if _, ok := f["value"]; !ok {
			t.Errorf("%v: no value", f)
		}
	}
}

func TestBulkErrors(t *testing.T) {
	client, _ := newClient(t, testDefs())
	h := ofrep.Handler(client, nil)
	tests := []struct{ body, code string }{
		{`{"context":{`, "PARSE_ERROR"},
		{`"context"`, "PARSE_ERROR"},
		{`{"context":true}`, "INVALID_CONTEXT"},
		{`{"context":{"targetingKey":["a"]}}`, "INVALID_CONTEXT"},
	}
	for _, tt := range tests {
		w := post(h, ofrep.EvaluatePath, tt.body)
		if w.Code != 400 {
			t.Errorf("%s: status %d, want 400", tt.body, w.Code)
			continue
		}
		if got := checkResponse(t, w, true); got["errorCode"] != tt.code {
			t.Errorf("%s: errorCode %v, want %s", tt.body, got["errorCode"], tt.code)
		}
	}
}

// emptySource never delivers a snapshot.
type emptySource struct{}

func (emptySource) Snapshot() *flagon.Snapshot                      { return nil }
func (emptySource) Subscribe(func(*flagon.Snapshot)) (unsub func()) { return func() {} }

func TestNotReady(t *testing.T) {
	client := flagon.NewClient(emptySource{}, &flagon.Options{Logger: discard})
	h := ofrep.Handler(client, &ofrep.Options{Logger: discard})
	for _, path := range []string{ofrep.EvaluatePath + "/limit", ofrep.EvaluatePath} {
		w := post(h, path, `{}`)
		if w.Code != 500 {
			t.Errorf("%s: status %d, want 500", path, w.Code)
		}
		checkResponse(t, w, path == ofrep.EvaluatePath)
	}
}

func TestAuth(t *testing.T) {
	client, _ := newClient(t, testDefs())
	open := ofrep.Handler(client, nil)
	locked := ofrep.Handler(client, &ofrep.Options{APIKeys: []string{"", "s3cret", "other-key"}})
	path := ofrep.EvaluatePath + "/limit"
	tests := []struct {
		name   string
		h      http.Handler
		header []string
		status int
	}{
		{"no keys configured", open, nil, 200},
		{"no keys configured, any key", open, []string{"X-API-Key", "whatever"}, 200},
		{"missing", locked, nil, 401},
		{"empty", locked, []string{"X-API-Key", ""}, 401},
		{"basic auth", locked, []string{"Authorization", "Basic czNjcmV0"}, 401},
		{"empty bearer", locked, []string{"Authorization", "Bearer "}, 401},
		{"wrong", locked, []string{"X-API-Key", "s3cre"}, 403},
		{"wrong bearer", locked, []string{"Authorization", "Bearer s3cret2"}, 403},
		{"header", locked, []string{"X-API-Key", "s3cret"}, 200},
		{"second key", locked, []string{"X-API-Key", "other-key"}, 200},
		{"bearer", locked, []string{"Authorization", "Bearer s3cret"}, 200},
		{"bearer, any case", locked, []string{"Authorization", "bearer s3cret"}, 200},
	}
	for _, tt := range tests {
		w := post(tt.h, path, `{}`, tt.header...)
		if w.Code != tt.status {
			t.Errorf("%s: status %d, want %d", tt.name, w.Code, tt.status)
		}
		checkResponse(t, w, false)
	}
	// Every endpoint is behind the key.
	for _, p := range []string{ofrep.EvaluatePath, ofrep.ConfigurationPath, ofrep.EventsPath} {
		r := httptest.NewRequest(http.MethodGet, p, nil)
		if p == ofrep.EvaluatePath {
			r.Method = http.MethodPost
		}
		w := httptest.NewRecorder()
		locked.ServeHTTP(w, r)
		if w.Code != 401 {
			t.Errorf("%s without a key: status %d, want 401", p, w.Code)
		}
	}
}

func TestRateLimit(t *testing.T) {
	client, _ := newClient(t, testDefs())
	path := ofrep.EvaluatePath + "/limit"
	t.Run("token bucket", func(t *testing.T) {
		// One request per 1000 s after a burst of 2: the third is refused
		// however slow the machine.
		h := ofrep.Handler(client, &ofrep.Options{APIKeys: []string{"a", "b"}, RateLimit: 0.001, Burst: 2})
		for i, want := range []int{200, 200, 429} {
			w := post(h, path, `{}`, "X-API-Key", "a")
			if w.Code != want {
				t.Fatalf("request %d: status %d, want %d", i+1, w.Code, want)
			}
			checkResponse(t, w, false)
			if want == 429 && w.Header().Get("Retry-After") != "1000" {
				t.Errorf("Retry-After = %q, want 1000", w.Header().Get("Retry-After"))
			}
		}
		if w := post(h, path, `{}`, "X-API-Key", "b"); w.Code != 200 {
			t.Errorf("another key: status %d, want 200", w.Code)
		}
	})
	t.Run("by address without keys", func(t *testing.T) {
		h := ofrep.Handler(client, &ofrep.Options{RateLimit: 0.001, Burst: 1})
		if w := post(h, path, `{}`); w.Code != 200 {
			t.Fatalf("first: %d", w.Code)
		}
		if w := post(h, path, `{}`); w.Code != 429 {
			t.Fatalf("second: %d, want 429", w.Code)
		}
	})
	t.Run("hook", func(t *testing.T) {
		var clients []string
		h := ofrep.Handler(client, &ofrep.Options{APIKeys: []string{"a", "b"}, Limit: func(r *http.Request, c string) (retryAfter time.Duration, ok bool) {
			clients = append(clients, c)
			return 1500 * time.Millisecond, c != "key:1"
		}})
		if w := post(h, path, `{}`, "X-API-Key", "a"); w.Code != 200 {
			t.Errorf("key a: %d, want 200", w.Code)
		}
		w := post(h, path, `{}`, "X-API-Key", "b")
		if w.Code != 429 || w.Header().Get("Retry-After") != "2" {
			t.Errorf("key b: %d, Retry-After %q; want 429, 2", w.Code, w.Header().Get("Retry-After"))
		}
		if jsonText(clients) != `["key:0","key:1"]` {
			t.Errorf("the hook saw clients %v", clients)
		}
	})
}

func TestConfiguration(t *testing.T) {
	client, _ := newClient(t, testDefs())
	h := ofrep.Handler(client, &ofrep.Options{MinPollInterval: 5 * time.Second})
	r := httptest.NewRequest(http.MethodGet, ofrep.ConfigurationPath, nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	got := checkSchema(t, w.Body.Bytes(), "configurationResponse")
	if want := `{"capabilities":{"cacheInvalidation":{"polling":{"enabled":true,"minPollingIntervalMs":5000}},"flagEvaluation":{"supportedTypes":["int","float","string","boolean","object"]}},"name":"flagon"}`; jsonText(got) != want {
		t.Errorf("configuration = %s\nwant %s", jsonText(got), want)
	}
	r.Header.Set("If-None-Match", w.Header().Get("ETag"))
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNotModified || w.Body.Len() != 0 {
		t.Errorf("revalidation: status %d, body %q; want 304 without a body", w.Code, w.Body)
	}
}

func TestMethods(t *testing.T) {
	client, _ := newClient(t, testDefs())
	h := ofrep.Handler(client, nil)
	for _, tt := range []struct{ method, path string }{
		{http.MethodGet, ofrep.EvaluatePath + "/limit"},
		{http.MethodGet, ofrep.EvaluatePath},
		{http.MethodPost, ofrep.ConfigurationPath},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, nil))
		if w.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: status %d, want 405", tt.method, tt.path, w.Code)
		}
	}
}

// FuzzRequest sends arbitrary bodies to both evaluation endpoints: every
// answer must be one the protocol allows, and nothing may panic.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"context":{"targetingKey":"u"}}`, `{"context":[]}`, `{"context":{"targetingKey":1}}`, `{"context":{"a":{"b":[1,"x",null]}}}`, `nul`, "\xff"} {
		f.Add(s)
	}
	client, _ := newClient(f, testDefs())
	h := ofrep.Handler(client, &ofrep.Options{Logger: discard})
	f.Fuzz(func(t *testing.T, body string) {
		checkResponse(t, post(h, ofrep.EvaluatePath+"/checkout", body), false)
		checkResponse(t, post(h, ofrep.EvaluatePath, body), true)
	})
}

// layerOverrides is a layer that serves "limit" as 99 to the context key
// "vip".
type layerOverrides struct {
	ec   flagon.EvalContext
	base flagon.Overrides
}

func (l layerOverrides) Override(key string) (flagon.Override, bool) {
	if l.base != nil {
		if o, ok := l.base.Override(key); ok {
			return o, true
		}
	}
	if key == "limit" && l.ec.Key == "vip" {
		return flagon.Override{Value: int64(99), Source: "layer"}, true
	}
	return flagon.Override{}, false
}

func TestLayer(t *testing.T) {
	client, _ := newClient(t, testDefs())
	h := ofrep.Handler(client, &ofrep.Options{
		Overrides: func(r *http.Request) flagon.Overrides {
			if r.Header.Get("X-Cookie") != "" {
				return flagon.OverrideMap{"limit": {Value: int64(20), Source: "cookie"}}
			}
			return nil
		},
		Layer: func(_ context.Context, ec flagon.EvalContext, o flagon.Overrides) flagon.Overrides {
			return layerOverrides{ec, o}
		},
	})
	tests := []struct {
		body, cookie, value, source string
	}{
		{`{"context":{"targetingKey":"vip"}}`, "", "99", "layer"},
		{`{"context":{"targetingKey":"vip"}}`, "1", "20", "cookie"},
		{`{"context":{"targetingKey":"other"}}`, "", "10", ""},
	}
	for _, tt := range tests {
		for _, bulk := range []bool{false, true} {
			path := ofrep.EvaluatePath + "/limit"
			if bulk {
				path = ofrep.EvaluatePath
			}
			var w *httptest.ResponseRecorder
			if tt.cookie != "" {
				w = post(h, path, tt.body, "X-Cookie", tt.cookie)
			} else {
				w = post(h, path, tt.body)
			}
			got := checkResponse(t, w, bulk)
			if bulk {
				for _, f := range got["flags"].([]any) {
					if f.(map[string]any)["key"] == "limit" {
						got = f.(map[string]any)
					}
				}
			}
			md, _ := got["metadata"].(map[string]any)
			if jsonText(got["value"]) != tt.value || tt.source != "" && md["overrideSource"] != tt.source {
				t.Errorf("%s (cookie %q, bulk %v): %v, want %s from %q", tt.body, tt.cookie, bulk, got, tt.value, tt.source)
			}
		}
	}
}

// TestCORS checks CORS on the OFREP endpoints: off without origins; with
// them, preflights answered before the API key is asked for, and allowed
// origins named on responses.
func TestCORS(t *testing.T) {
	client, _ := newClient(t, testDefs())
	const app = "https://app.example"
	tests := []struct {
		name                        string
		origins                     []string
		method, origin              string
		preflight, key              bool
		wantStatus                  int
		wantOrigin, wantVary, allow string
	}{
		{"off: no headers", nil, "POST", app, false, true, 200, "", "", ""},
		{"off: a preflight meets the API key check", nil, "OPTIONS", app, true, false, 401, "", "", ""},
		{"preflight answered before auth", []string{app}, "OPTIONS", app, true, false, 204, app, "Origin", "GET, POST, OPTIONS"},
		{"allowed origin", []string{app}, "POST", app, false, true, 200, app, "Origin", ""},
		{"other origin", []string{app}, "POST", "https://evil.example", false, true, 200, "", "Origin", ""},
		{"any origin", []string{"*"}, "POST", "https://evil.example", false, true, 200, "*", "Origin", ""},
		{"errors carry the headers too", []string{app}, "POST", app, false, false, 401, app, "Origin", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := ofrep.Handler(client, &ofrep.Options{APIKeys: []string{"k"}, CORSOrigins: tt.origins, Logger: discard})
			r := httptest.NewRequest(tt.method, ofrep.EvaluatePath, strings.NewReader(`{"context":{"targetingKey":"u1"}}`))
			r.Header.Set("Origin", tt.origin)
			if tt.preflight {
				r.Header.Set("Access-Control-Request-Method", "POST")
			}
			if tt.key {
				r.Header.Set("Authorization", "Bearer k")
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			hdr := w.Header()
			if w.Code != tt.wantStatus || hdr.Get("Access-Control-Allow-Origin") != tt.wantOrigin || hdr.Get("Vary") != tt.wantVary || hdr.Get("Access-Control-Allow-Methods") != tt.allow {
				t.Errorf("got %d, origin %q, Vary %q, methods %q; want %d, %q, %q, %q", w.Code,
					hdr.Get("Access-Control-Allow-Origin"), hdr.Get("Vary"), hdr.Get("Access-Control-Allow-Methods"),
					tt.wantStatus, tt.wantOrigin, tt.wantVary, tt.allow)
			}
			if tt.preflight && tt.wantStatus == 204 {
				if got := hdr.Get("Access-Control-Allow-Headers"); !strings.Contains(got, "Authorization") || !strings.Contains(got, "Content-Type") {
					t.Errorf("Access-Control-Allow-Headers %q, want Authorization and Content-Type", got)
				}
				if hdr.Get("Access-Control-Max-Age") == "" {
					t.Error("no Access-Control-Max-Age")
				}
			}
		})
	}
}
