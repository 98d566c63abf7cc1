package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon/server"
	"github.com/flagon/flagon/sqlite"
)

// eachStore runs fn on a fresh SQLite store, and on PostgreSQL when
// FLAGON_TEST_POSTGRES_DSN is set.
func eachStore(t *testing.T, fn func(t *testing.T, st server.Store)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, openSQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, openPostgres(t)) })
}

// apiError is the body of a REST API error.
type apiError struct {
	Error  string `json:"error"`
	Code   string `json:"code"`
	Fields []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"fields"`
}

// wantError checks that a response is the error status/code, with a
// message for people: no package prefix, and containing want if set.
func wantError(t *testing.T, what string, code int, body string, wantStatus int, wantCode, want string) {
	t.Helper()
	var e apiError
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Errorf("%s: %d %s: not an error body: %v", what, code, body, err)
		return
	}
	if code != wantStatus || e.Code != wantCode {
		t.Errorf("%s = %d %q, want %d %q (%s)", what, code, e.Code, wantStatus, wantCode, e.Error)
	}
	if want != "" && !strings.Contains(e.Error, want) {
		t.Errorf("%s: message %q, want it to contain %q", what, e.Error, want)
	}
	if prefix.MatchString(e.Error) {
		t.Errorf("%s: message %q names a package", what, e.Error)
	}
}

// prefix matches what a store or decoder would put in front of a message.
var prefix = regexp.MustCompile(`(^|\s)(sqlite|postgres|pgx|sqlstore|flagon|server|json|override):|conflict: revision`)

// getBody GETs url and returns the body and its ETag.
func getBody(t *testing.T, url string) (string, string) {
	t.Helper()
	code, hdr, body := do(t, "GET", url, token, "")
	if code != 200 {
		t.Fatalf("GET %s = %d %s", url, code, body)
	}
	return body, hdr.Get("ETag")
}

// edit returns body (a JSON object) with field set to v.
func edit(t *testing.T, body, field string, v any) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	m[field] = v
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPutWhatGetReturns GETs each kind of resource and PUTs the body back
// unchanged, then edited, then with the old version in the body (409) and
// with a stale If-Match (412).
func TestPutWhatGetReturns(t *testing.T) {
	eachStore(t, func(t *testing.T, st server.Store) {
		_, ts := newServer(t, st, false)
		api := ts.URL + "/api/v1"
		if code, _, body := do(t, "PUT", api+"/audiences/staff", token, `{"clauses":[{"attribute":"is_staff","op":"equals","values":[true]}]}`); code != 200 {
			t.Fatalf("create audience = %d %s", code, body)
		}
		flag := `{"description":"New checkout","type":"bool","variants":[{"name":"on","value":true},{"name":"off","value":false}],"default":"off",
			"rules":[{"audiences":["staff"],"serve":{"variant":"on"}}],"override":{"who":"anyone","max_duration":"30d"},"metadata":{"team":"pay"}}`
		if code, _, body := do(t, "PUT", api+"/flags/checkout", token, flag); code != 200 {
			t.Fatalf("create flag = %d %s", code, body)
		}
		// An archived flag too: GET shows archived, and PUT takes it.
		if code, _, body := do(t, "PUT", api+"/flags/old", token, `{"default":"off"}`); code != 200 {
			t.Fatalf("create flag = %d %s", code, body)
		}
		if code, _, body := do(t, "POST", api+"/flags/old/archive", token, "", "If-Match", `"1"`); code != 200 || !strings.Contains(body, `"archived": true`) {
			t.Fatalf("archive = %d %s", code, body)
		}

		for _, c := range []struct {
			url, field string
			value      any
		}{
			{api + "/flags/checkout", "description", "New checkout, for everyone"},
			{api + "/flags/old", "description", "kept for the record"},
			{api + "/audiences/staff", "description", "Staff accounts"},
		} {
			t.Run(strings.TrimPrefix(c.url, api), func(t *testing.T) {
				v1, etag1 := getBody(t, c.url)
				code, hdr, body := do(t, "PUT", c.url, token, v1)
				if code != 200 {
					t.Fatalf("PUT of what GET returned = %d %s", code, body)
				}
				var got map[string]any
				json.Unmarshal([]byte(body), &got)
				var before map[string]any
				json.Unmarshal([]byte(v1), &before)
				if got["version"] != before["version"].(float64)+1 || hdr.Get("ETag") != fmt.Sprintf(`"%v"`, got["version"]) {
					t.Errorf("PUT back: version %v ETag %s, want %v", got["version"], hdr.Get("ETag"), before["version"].(float64)+1)
				}

				v2, etag2 := getBody(t, c.url)
				edited := edit(t, v2, c.field, c.value)
				if code, _, body := do(t, "PUT", c.url, token, edited); code != 200 {
					t.Fatalf("PUT edited = %d %s", code, body)
				}
				if now, _ := getBody(t, c.url); !strings.Contains(now, fmt.Sprint(c.value)) {
					t.Errorf("the edit is not visible: %s", now)
				}

				// The old version in the body: someone else changed it.
				var old struct{ Version int64 }
				json.Unmarshal([]byte(v2), &old)
				code, _, body = do(t, "PUT", c.url, token, edit(t, v2, c.field, "lost update"))
				wantError(t, "PUT with the old version", code, body, 409, "conflict",
					fmt.Sprintf("was changed by someone else (version %d, you sent %d)", old.Version+1, old.Version))
				// A stale If-Match: 412, whatever the body says.
				v3, _ := getBody(t, c.url)
				for _, b := range []string{v3, edit(t, v3, "version", nil)} {
					code, _, body = do(t, "PUT", c.url, token, b, "If-Match", etag2)
					wantError(t, "PUT with a stale If-Match", code, body, 412, "precondition_failed", "was changed by someone else")
				}
				code, _, body = do(t, "PUT", c.url, token, v2, "If-Match", etag1)
				wantError(t, "PUT with a stale If-Match and body", code, body, 412, "precondition_failed", "")
				// If-Match current, body stale: the body's version is the
				// stale one.
				_, etag3 := getBody(t, c.url)
				code, _, body = do(t, "PUT", c.url, token, v2, "If-Match", etag3)
				wantError(t, "PUT with a current If-Match and a stale body", code, body, 409, "conflict", "")
				if now, _ := getBody(t, c.url); strings.Contains(now, "lost update") {
					t.Errorf("a stale write went through: %s", now)
				}

				// If-Match: * replaces whatever version there is, and
				// refuses to create.
				v4, _ := getBody(t, c.url)
				star := edit(t, edit(t, v4, "version", nil), c.field, "any version")
				if code, _, body := do(t, "PUT", c.url, token, star, "If-Match", "*"); code != 200 || !strings.Contains(body, "any version") {
					t.Errorf("PUT with If-Match: * = %d %s", code, body)
				}
				code, _, body = do(t, "PUT", c.url+"-none", token, `{"description":"new"}`, "If-Match", "*")
				wantError(t, "PUT of a new one with If-Match: *", code, body, 412, "precondition_failed", "does not exist")
			})
		}

		// Read-only fields are ignored, not written.
		v, _ := getBody(t, api+"/flags/checkout")
		b := edit(t, edit(t, v, "updated_by", "mallory"), "archived", true)
		if code, _, body := do(t, "PUT", api+"/flags/checkout", token, b); code != 200 || strings.Contains(body, "mallory") || strings.Contains(body, `"archived"`) {
			t.Errorf("PUT with read-only fields = %d %s; want them ignored", code, body)
		}
	})
}

// TestDurations: durations come out and go in as config files write them.
func TestDurations(t *testing.T) {
	_, ts := newServer(t, openSQLite(t), false)
	api := ts.URL + "/api/v1"
	if code, _, body := do(t, "PUT", api+"/flags/checkout", token, `{"default":"off","override":{"who":"anyone","max_duration":"30d"}}`); code != 200 || !strings.Contains(body, `"max_duration": "30d"`) {
		t.Fatalf("create = %d %s", code, body)
	}
	body, _ := getBody(t, api+"/flags/checkout")
	if !strings.Contains(body, `"max_duration": "30d"`) {
		t.Errorf("GET: %s; want max_duration \"30d\"", body)
	}
	if code, _, body := do(t, "PUT", api+"/flags/checkout", token, strings.Replace(body, `"30d"`, `"36h"`, 1)); code != 200 || !strings.Contains(body, `"max_duration": "36h"`) {
		t.Errorf("PUT 36h = %d %s", code, body)
	}
	body, _ = getBody(t, api+"/flags/checkout")
	for _, bad := range []string{`86400`, `"a month"`, `"-1h"`} {
		code, _, resp := do(t, "PUT", api+"/flags/checkout", token, strings.Replace(body, `"36h"`, bad, 1))
		wantError(t, "max_duration "+bad, code, resp, 400, "bad_request", "override.max_duration: ")
	}

	// Per-user overrides: the duration is a string; the longest is the
	// policy's, named as config files write it.
	code, _, resp := do(t, "PUT", api+"/overrides/ann/checkout", token, `{"value":false,"duration":"12h"}`)
	if code != 200 {
		t.Fatalf("override = %d %s", code, resp)
	}
	var o struct {
		SetAt     time.Time `json:"set_at"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(resp), &o); err != nil || o.ExpiresAt.Sub(o.SetAt) != 12*time.Hour {
		t.Errorf("override for 12h: %s (%v)", resp, err)
	}
	code, _, resp = do(t, "PUT", api+"/overrides/ann/checkout", token, `{"value":false}`)
	if json.Unmarshal([]byte(resp), &o); code != 200 || o.ExpiresAt.Sub(o.SetAt) != 36*time.Hour {
		t.Errorf("override without duration = %d %s; want the policy's 36h", code, resp)
	}
	for _, c := range []struct{ dur, want string }{
		{`3600`, `want a duration string such as "12h"`},
		{`"soon"`, `want a duration such as "12h"`},
		{`"2d"`, `2d is longer than flag "checkout" allows (36h)`},
	} {
		code, _, resp := do(t, "PUT", api+"/overrides/ann/checkout", token, `{"value":false,"duration":`+c.dur+`}`)
		wantError(t, "override for "+c.dur, code, resp, 400, "bad_request", c.want)
	}

	// The audit log takes "that long ago" as a duration.
	if code, _, resp := do(t, "GET", api+"/audit?since=1h&target=checkout", token, ""); code != 200 || !strings.Contains(resp, `"flag.create"`) {
		t.Errorf("audit since 1h = %d %s", code, resp)
	}
	if code, _, resp := do(t, "GET", api+"/audit?until=1h&target=checkout", token, ""); code != 200 || strings.TrimSpace(resp) != "[]" {
		t.Errorf("audit until 1h ago = %d %s; want none", code, resp)
	}
}

// openSQLite opens a SQLite store in a temporary directory.
func openSQLite(t *testing.T) server.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "flagon.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestAPIErrors checks each error's status, code and message on the real
// stores: the message names the flag or audience and no package.
func TestAPIErrors(t *testing.T) {
	eachStore(t, func(t *testing.T, st server.Store) {
		_, ts := newServer(t, st, false)
		api := ts.URL + "/api/v1"
		must := func(method, path, body string, hdr ...string) {
			t.Helper()
			if code, _, resp := do(t, method, api+path, token, body, hdr...); code/100 != 2 {
				t.Fatalf("%s %s = %d %s", method, path, code, resp)
			}
		}
		must("PUT", "/audiences/staff", `{"clauses":[{"attribute":"is_staff","op":"equals","values":[true]}]}`)
		must("PUT", "/flags/x", `{"default":"off","rules":[{"audiences":["staff"],"serve":{"variant":"on"}}]}`)
		must("PUT", "/flags/x", `{"default":"on","rules":[{"audiences":["staff"],"serve":{"variant":"on"}}]}`, "If-Match", `"1"`)
		must("PUT", "/flags/x", `{"default":"off","rules":[{"audiences":["staff"],"serve":{"variant":"on"}}]}`, "If-Match", `"2"`)

		cases := []struct {
			name, method, path, tok, body string
			hdr                           []string
			status                        int
			code, msg                     string
		}{
			{"stale body version", "PUT", "/flags/x", token, `{"version":2,"default":"on"}`, nil, 409, "conflict",
				`flag "x" was changed by someone else (version 3, you sent 2)`},
			{"stale query version", "PUT", "/flags/x?version=1", token, `{"default":"on"}`, nil, 409, "conflict",
				`flag "x" was changed by someone else (version 3, you sent 1)`},
			{"stale If-Match", "PUT", "/flags/x", token, `{"default":"on"}`, []string{"If-Match", `"2"`}, 412, "precondition_failed",
				`flag "x" was changed by someone else (version 3, you sent 2)`},
			{"create over existing", "PUT", "/flags/x", token, `{"default":"on"}`, nil, 409, "conflict",
				`flag "x" already exists (version 3)`},
			{"update of a missing flag", "PUT", "/flags/ghost", token, `{"version":4,"default":"on"}`, nil, 404, "not_found",
				`flag "ghost" does not exist (you sent version 4; send none to create it)`},
			{"get missing flag", "GET", "/flags/ghost", token, "", nil, 404, "not_found", `flag "ghost" does not exist`},
			{"get missing audience", "GET", "/audiences/ghosts", token, "", nil, 404, "not_found", `audience "ghosts" does not exist`},
			{"archive stale", "POST", "/flags/x/archive", token, "", []string{"If-Match", `"1"`}, 412, "precondition_failed",
				`flag "x" was changed by someone else (version 3, you sent 1)`},
			{"archive missing", "POST", "/flags/ghost/archive", token, "", []string{"If-Match", `"1"`}, 404, "not_found", `flag "ghost" does not exist`},
			{"archive without version", "POST", "/flags/x/archive", token, "", nil, 400, "bad_request", "need the version you read"},
			{"invalid flag", "PUT", "/flags/x", token, `{"version":3,"default":"maybe"}`, nil, 400, "invalid", `flag "x": default:`},
			{"unknown audience", "PUT", "/flags/y", token, `{"rules":[{"audiences":["ghosts"],"serve":{"variant":"on"}}]}`, nil, 400, "invalid", `unknown audience "ghosts"`},
			{"unknown field", "PUT", "/flags/x", token, `{"version":3,"defualt":"on"}`, nil, 400, "bad_request", "defualt: unknown field"},
			{"variants as a map", "PUT", "/flags/x", token, `{"variants":{"on":true}}`, nil, 400, "bad_request", "variants: want an array of objects, got object"},
			{"description as a number", "PUT", "/flags/x", token, `{"description":3}`, nil, 400, "bad_request", "description: want a string, got number"},
			{"bad If-Match", "PUT", "/flags/x", token, `{}`, []string{"If-Match", "three"}, 400, "bad_request", "If-Match: want the version in quotes"},
			{"audience in use", "DELETE", "/audiences/staff", token, "", []string{"If-Match", `"1"`}, 409, "in_use", `audience "staff" is in use by flag "x"`},
			{"audience stale", "DELETE", "/audiences/staff?version=7", token, "", nil, 409, "conflict", `audience "staff" was changed by someone else (version 1, you sent 7)`},
			{"stale audience If-Match", "PUT", "/audiences/staff", token, `{"clauses":[]}`, []string{"If-Match", `"5"`}, 412, "precondition_failed",
				`audience "staff" was changed by someone else (version 1, you sent 5)`},
			{"override of a missing flag", "PUT", "/overrides/ann/ghost", token, `{"value":true}`, nil, 404, "not_found", `flag "ghost" does not exist`},
			{"no token", "GET", "/flags", "", "", nil, 401, "unauthorized", "missing or unknown API token"},
			{"read-only token", "PUT", "/flags/x", "reader-token-0123456789", `{}`, nil, 403, "forbidden", `token "reader" is read-only`},
		}
		for _, c := range cases {
			code, _, body := do(t, c.method, api+c.path, c.tok, c.body, c.hdr...)
			wantError(t, c.name, code, body, c.status, c.code, c.msg)
		}
		if got, _ := getBody(t, api+"/flags/x"); !strings.Contains(got, `"version": 3`) || !strings.Contains(got, `"default": "off"`) {
			t.Errorf("a refused write changed the flag: %s", got)
		}
	})
}
