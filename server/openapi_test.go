package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon/server"
)

// schemas checks JSON values against the schemas of an OpenAPI document:
// type (one or a list), required, properties, additionalProperties,
// items, enum and $ref into components. Other keywords are not checked.
type schemas struct{ doc map[string]any }

// check returns what in v does not match schema s; at is v's path.
func (c schemas) check(s map[string]any, v any, at string) []string {
	if ref, ok := s["$ref"].(string); ok {
		target, ok := c.resolve(ref).(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: $ref %s resolves to nothing", at, ref)}
		}
		return c.check(target, v, at)
	}
	if t, ok := s["type"]; ok {
		var types []string
		switch t := t.(type) {
		case string:
			types = []string{t}
		case []any:
			for _, x := range t {
				types = append(types, x.(string))
			}
		}
		if !slices.ContainsFunc(types, func(t string) bool { return hasType(v, t) }) {
			return []string{fmt.Sprintf("%s: %s is not of type %v", at, short(v), types)}
		}
	}
	var errs []string
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, v) {
		errs = append(errs, fmt.Sprintf("%s: %s is not one of %v", at, short(v), enum))
	}
	switch v := v.(type) {
	case map[string]any:
		for _, r := range asList(s["required"]) {
			if _, ok := v[r.(string)]; !ok {
				errs = append(errs, fmt.Sprintf("%s: required property %q is missing", at, r))
			}
		}
		props, _ := s["properties"].(map[string]any)
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, c.check(ps, v[k], at+"."+k)...)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					errs = append(errs, fmt.Sprintf("%s: property %q is not documented", at, k))
				}
			case map[string]any:
				errs = append(errs, c.check(ap, v[k], at+"."+k)...)
			}
		}
	case []any:
		if items, ok := s["items"].(map[string]any); ok {
			for i, x := range v {
				errs = append(errs, c.check(items, x, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	}
	return errs
}

// resolve follows a local reference such as #/components/schemas/Flag.
func (c schemas) resolve(ref string) any {
	var v any = c.doc
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[part]
	}
	return v
}

func hasType(v any, t string) bool {
	switch t {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		f, ok := v.(float64)
		return ok && f == math.Trunc(f)
	case "null":
		return v == nil
	}
	return false
}

func asList(v any) []any { l, _ := v.([]any); return l }

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 60 {
		return string(b[:60]) + "…"
	}
	return string(b)
}

// TestSchemaChecker shows the checker can fail.
func TestSchemaChecker(t *testing.T) {
	doc := map[string]any{}
	json.Unmarshal([]byte(`{"components":{"schemas":{
		"T":{"type":"object","required":["n"],"additionalProperties":false,"properties":{
			"n":{"type":"integer"},"e":{"type":"string","enum":["a","b"]},"l":{"type":"array","items":{"$ref":"#/components/schemas/U"}}}},
		"U":{"type":["string","null"]}}}}`), &doc)
	c := schemas{doc}
	root := map[string]any{"$ref": "#/components/schemas/T"}
	for _, tt := range []struct {
		json string
		errs int
	}{
		{`{"n":1,"e":"a","l":["x",null]}`, 0},
		{`{"n":1.5}`, 1},
		{`{}`, 1},
		{`{"n":1,"e":"c"}`, 1},
		{`{"n":1,"l":[1,true]}`, 2},
		{`{"n":1,"x":1}`, 1},
		{`[]`, 1},
	} {
		var v any
		json.Unmarshal([]byte(tt.json), &v)
		if errs := c.check(root, v, "$"); len(errs) != tt.errs {
			t.Errorf("%s: %d errors %q, want %d", tt.json, len(errs), errs, tt.errs)
		}
	}
}

// call is one real request made for a documented operation.
type call struct {
	op     string // "get /api/v1/flags/{key}", as documented
	path   string // with its parameters filled
	tok    string
	body   string
	hdr    func() []string
	status int
}

// TestOpenAPI checks the served description against the server: every
// documented operation is called for real and its status and body match
// the description, and every route the server registers is documented.
func TestOpenAPI(t *testing.T) {
	// Production is protected: the test token is an admin's, whose
	// changes apply at once, and the editor's become change requests.
	const editor = "editor-token-0123456789"
	srv, err := server.New(context.Background(), openSQLite(t), &server.Options{
		Logger: quiet, Environment: "production", Production: true,
		APITokens: []server.APIToken{{Name: "test", Secret: token, Admin: true}, {Name: "reader", Secret: "reader-token-0123456789", ReadOnly: true}, {Name: "editor", Secret: editor}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	code, hdr, body := do(t, "GET", ts.URL+server.OpenAPIPath, "", "")
	if code != 200 || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s without a token = %d %s", server.OpenAPIPath, code, hdr.Get("Content-Type"))
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", doc["openapi"])
	}
	c := schemas{doc}
	paths := doc["paths"].(map[string]any)

	// Every documented operation, as "method path".
	documented := map[string]map[string]any{}
	for p, item := range paths {
		for m, op := range item.(map[string]any) {
			if m != "parameters" {
				documented[m+" "+p] = op.(map[string]any)
			}
		}
	}

	// The error codes of the server are the documented ones.
	enum := c.resolve("#/components/schemas/Error/properties/code/enum").([]any)
	var docCodes []string
	for _, e := range enum {
		docCodes = append(docCodes, e.(string))
	}
	codes := server.ErrorCodes()
	slices.Sort(codes)
	codes = slices.Compact(codes)
	slices.Sort(docCodes)
	if !slices.Equal(codes, docCodes) {
		t.Errorf("error codes: server %v, documented %v", codes, docCodes)
	}

	// Every route the server registers is documented, and every
	// documented /api/v1 route is registered. Browser pages (the console,
	// the demo, the override link) are not part of the HTTP API.
	browser := map[string]bool{"/": true, "/admin/": true, "GET /admin": true}
	registered := map[string]bool{}
	for _, p := range server.Routes(srv) {
		if browser[p] {
			continue
		}
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			method, path = "", p
		}
		registered[strings.ToLower(method)+" "+path] = true
		if strings.HasSuffix(path, "/") { // a subtree, such as /ofrep/
			found := false
			for op := range documented {
				found = found || strings.HasPrefix(strings.SplitN(op, " ", 2)[1], path)
			}
			if !found {
				t.Errorf("route %q is not documented", p)
			}
			continue
		}
		if documented[strings.ToLower(method)+" "+path] == nil {
			t.Errorf("route %q is not documented", p)
		}
	}
	for op := range documented {
		if strings.Contains(op, " /api/v1/") && !registered[op] {
			t.Errorf("%s is documented but not registered", op)
		}
	}

	api := "/api/v1"
	version := func(path string) func() []string {
		return func() []string {
			_, etag := getBody(t, ts.URL+api+path)
			return []string{"If-Match", etag}
		}
	}
	stale := func() []string { return []string{"If-Match", `"99"`} }
	staff := `{"description":"Staff","clauses":[{"attribute":"is_staff","op":"equals","values":[true]}]}`
	flag := `{"description":"New checkout","owner":"pay","tags":["checkout"],"expires":"2030-01-01T00:00:00Z","type":"string",
		"variants":[{"name":"new","value":"new"},{"name":"old","value":"old"}],"default":"old",
		"rules":[{"id":"staff","audiences":["staff"],"clauses":[{"attribute":"country","op":"in","values":["NZ","AU"]}],"serve":{"variant":"new"}}],
		"fallthrough":{"split":[{"variant":"new","percent":10},{"variant":"old","percent":90}],"by":"account"},
		"override":{"who":"anyone","variants":["new","old"],"max_duration":"30d"},"metadata":{"jira":"PAY-1"},
		"environments":{"production":{"default":"old","disabled":false}}}`
	ctx := `{"context":{"targetingKey":"ann","country":"NZ","account":"a1"}}`
	ramp := `{"reason":"ramp up","variant":"new","steps":[{"at":"2030-01-01T00:00:00Z","percent":50},{"at":"2030-01-02T00:00:00Z","percent":100}]}`
	usage := fmt.Sprintf(`{"app":"web","counts":[{"hour":%q,"flag":"checkout","variant":"new","count":3}]}`,
		time.Now().UTC().Truncate(time.Hour).Format(time.RFC3339))
	calls := []call{
		{op: "get /api/v1/openapi.json", path: api + "/openapi.json", status: 200},
		{op: "put /api/v1/audiences/{name}", path: api + "/audiences/staff", tok: token, body: staff, status: 200},
		{op: "put /api/v1/audiences/{name}", path: api + "/audiences/staff", tok: token, body: staff, status: 409},
		{op: "put /api/v1/audiences/{name}", path: api + "/audiences/staff", tok: token, body: staff, hdr: stale, status: 412},
		{op: "put /api/v1/audiences/{name}", path: api + "/audiences/staff", tok: "reader-token-0123456789", body: staff, status: 403},
		{op: "put /api/v1/audiences/{name}", path: api + "/audiences/staff", tok: editor, body: staff, hdr: version("/audiences/staff"), status: 403},
		{op: "put /api/v1/audiences/{name}", path: api + "/audiences/other", tok: editor, body: `{"clauses":[{"attribute":"plan","op":"exists"}]}`, status: 200},
		{op: "put /api/v1/audiences/{name}", path: api + "/audiences/other", tok: token, body: `{"clauses":[{"attribute":"plan","op":"exists"}]}`, hdr: version("/audiences/other"), status: 200},
		{op: "get /api/v1/audiences", path: api + "/audiences", tok: token, status: 200},
		{op: "get /api/v1/audiences", path: api + "/audiences", status: 401},
		{op: "get /api/v1/audiences/{name}", path: api + "/audiences/staff", tok: token, status: 200},
		{op: "get /api/v1/audiences/{name}", path: api + "/audiences/ghosts", tok: token, status: 404},
		{op: "put /api/v1/flags/{key}", path: api + "/flags/checkout", tok: token, body: flag, status: 200},
		{op: "put /api/v1/flags/{key}", path: api + "/flags/checkout", tok: token, body: flag, status: 409},
		{op: "put /api/v1/flags/{key}", path: api + "/flags/checkout", tok: token, body: flag, hdr: stale, status: 412},
		{op: "put /api/v1/flags/{key}", path: api + "/flags/checkout", tok: token, body: `{"default":"maybe"}`, hdr: version("/flags/checkout"), status: 400},
		{op: "put /api/v1/flags/{key}", path: api + "/flags/ghost", tok: token, body: `{"version":3}`, status: 404},
		{op: "put /api/v1/flags/{key}", path: api + "/flags/plain", tok: token, body: `{}`, status: 200},
		{op: "get /api/v1/flags", path: api + "/flags", tok: token, status: 200},
		{op: "get /api/v1/flags/{key}", path: api + "/flags/checkout", tok: token, status: 200},
		{op: "get /api/v1/flags/{key}", path: api + "/flags/ghost", tok: token, status: 404},
		{op: "put /api/v1/overrides/{user}/{flag}", path: api + "/overrides/ann/checkout", tok: token, body: `{"value":"new","duration":"12h"}`, status: 200},
		{op: "put /api/v1/overrides/{user}/{flag}", path: api + "/overrides/ann/checkout", tok: token, body: `{"value":"new","duration":43200}`, status: 400},
		{op: "put /api/v1/overrides/{user}/{flag}", path: api + "/overrides/ann/ghost", tok: token, body: `{"value":true}`, status: 404},
		{op: "get /api/v1/overrides", path: api + "/overrides", tok: token, status: 200},
		{op: "get /api/v1/overrides", path: api + "/overrides?user=ann", tok: token, status: 200},
		{op: "delete /api/v1/overrides/{user}/{flag}", path: api + "/overrides/ann/checkout", tok: token, status: 204},
		{op: "post /api/v1/flags/{key}/archive", path: api + "/flags/plain/archive", tok: token, hdr: version("/flags/plain"), status: 200},
		{op: "post /api/v1/flags/{key}/archive", path: api + "/flags/plain/archive", tok: token, hdr: stale, status: 412},
		{op: "post /api/v1/flags/{key}/archive", path: api + "/flags/plain/archive", tok: token, status: 400},
		{op: "post /api/v1/flags/{key}/restore", path: api + "/flags/plain/restore", tok: token, hdr: version("/flags/plain"), status: 200},
		{op: "post /api/v1/flags/{key}/restore", path: api + "/flags/ghost/restore", tok: token, hdr: stale, status: 404},
		{op: "delete /api/v1/audiences/{name}", path: api + "/audiences/staff", tok: token, hdr: version("/audiences/staff"), status: 409},
		{op: "delete /api/v1/audiences/{name}", path: api + "/audiences/other", tok: token, hdr: version("/audiences/other"), status: 204},
		{op: "get /api/v1/audit", path: api + "/audit?target=checkout&since=1h&limit=5", tok: token, status: 200},
		{op: "get /api/v1/audit", path: api + "/audit?since=yesterday", tok: token, status: 400},
		{op: "post /api/v1/flags/{key}/schedule", path: api + "/flags/checkout/schedule", tok: token, body: ramp, status: 201},
		{op: "post /api/v1/flags/{key}/schedule", path: api + "/flags/checkout/schedule", tok: token, body: `{"steps":[{"at":"2030-01-01T00:00:00Z"}]}`, status: 400},
		{op: "post /api/v1/flags/{key}/schedule", path: api + "/flags/ghost/schedule", tok: token, body: ramp, status: 404},
		{op: "post /api/v1/flags/{key}/schedule", path: api + "/flags/checkout/schedule", tok: "reader-token-0123456789", body: ramp, status: 403},
		{op: "get /api/v1/schedules", path: api + "/schedules?flag=checkout", tok: token, status: 200},
		{op: "get /api/v1/schedules", path: api + "/schedules?status=soon", tok: token, status: 400},
		{op: "delete /api/v1/schedules/{id}", path: api + "/schedules/1", tok: token, status: 204},
		{op: "delete /api/v1/schedules/{id}", path: api + "/schedules/1", tok: token, status: 409},
		{op: "delete /api/v1/schedules/{id}", path: api + "/schedules/999", tok: token, status: 404},
		{op: "post /api/v1/flags/{key}/schedule", path: api + "/flags/plain/schedule", tok: token, body: `{"steps":[{"at":"2030-02-01T00:00:00Z","flag":{"description":"later"}}]}`, status: 201},
		{op: "post /api/v1/flags/{key}/schedule", path: api + "/flags/plain/schedule", tok: token, body: `{"steps":[{"at":"2030-02-01T00:00:00Z","flag":{"key":"other"}}]}`, status: 400},
		{op: "get /api/v1/schedules", path: api + "/schedules", tok: token, status: 200},
		{op: "put /api/v1/flags/{key}", path: api + "/flags/plain", tok: editor, body: `{"description":"proposed"}`, hdr: version("/flags/plain"), status: 202},
		{op: "get /api/v1/requests", path: api + "/requests?state=pending&flag=plain", tok: token, status: 200},
		{op: "get /api/v1/requests", path: api + "/requests?state=soon", tok: token, status: 400},
		{op: "get /api/v1/requests/{id}", path: api + "/requests/1", tok: "reader-token-0123456789", status: 200},
		{op: "get /api/v1/requests/{id}", path: api + "/requests/999", tok: token, status: 404},
		{op: "post /api/v1/requests/{id}/approve", path: api + "/requests/1/approve", tok: editor, status: 403},
		{op: "post /api/v1/requests/{id}/approve", path: api + "/requests/1/approve", tok: token, body: `{"comment":"fine"}`, status: 200},
		{op: "post /api/v1/requests/{id}/approve", path: api + "/requests/1/approve", tok: token, status: 409},
		{op: "post /api/v1/requests/{id}/approve", path: api + "/requests/1/approve", tok: token, body: `{"note":"x"}`, status: 400},
		{op: "post /api/v1/flags/{key}/schedule", path: api + "/flags/plain/schedule", tok: editor, body: `{"steps":[{"at":"2030-03-01T00:00:00Z","flag":{"description":"later still"}}]}`, status: 202},
		{op: "post /api/v1/requests/{id}/reject", path: api + "/requests/2/reject", tok: token, status: 200},
		{op: "post /api/v1/requests/{id}/reject", path: api + "/requests/999/reject", tok: token, status: 404},
		{op: "post /api/v1/usage", path: api + "/usage", tok: "reader-token-0123456789", body: usage, status: 202},
		{op: "post /api/v1/usage", path: api + "/usage", tok: token, body: strings.Replace(usage, `"new"`, `"not a variant!"`, 1), status: 400},
		{op: "post /api/v1/usage", path: api + "/usage", body: usage, status: 401},
		{op: "get /api/v1/usage", path: api + "/usage?flag=checkout", tok: token, status: 200},
		{op: "get /api/v1/usage", path: api + "/usage?since=yesterday", tok: token, status: 400},
		{op: "get /api/v1/usage/flags", path: api + "/usage/flags", tok: token, status: 200},
		{op: "get /api/v1/usage/flags", path: api + "/usage/flags?days=0", tok: token, status: 400},
		{op: "get /api/v1/usage/removable", path: api + "/usage/removable?days=1", tok: token, status: 200},
		{op: "get /api/v1/snapshot", path: api + "/snapshot", tok: "reader-token-0123456789", status: 200},
		{op: "get /api/v1/snapshot", path: api + "/snapshot", status: 401},
		{op: "get /api/v1/snapshot/events", path: api + "/snapshot/events", tok: token, status: 200},
		{op: "post /ofrep/v1/evaluate/flags/{key}", path: "/ofrep/v1/evaluate/flags/checkout", body: ctx, status: 200},
		{op: "post /ofrep/v1/evaluate/flags/{key}", path: "/ofrep/v1/evaluate/flags/ghost", body: ctx, status: 404},
		{op: "post /ofrep/v1/evaluate/flags", path: "/ofrep/v1/evaluate/flags", body: ctx, status: 200},
		{op: "get /ofrep/v1/configuration", path: "/ofrep/v1/configuration", status: 200},
		{op: "get /ofrep/v1/events", path: "/ofrep/v1/events", status: 200},
		{op: "get /features.json", path: "/features.json", status: 200},
		{op: "get /healthz", path: "/healthz", status: 200},
		{op: "get /metrics", path: "/metrics", status: 200},
	}
	called := map[string]bool{}
	for _, cl := range calls {
		op := documented[cl.op]
		if op == nil {
			t.Errorf("%s: not documented", cl.op)
			continue
		}
		called[cl.op] = true
		method, _, _ := strings.Cut(cl.op, " ")
		var hdr []string
		if cl.hdr != nil {
			hdr = cl.hdr()
		}
		status, ctype, body := request(t, strings.ToUpper(method), ts.URL+cl.path, cl.tok, cl.body, hdr)
		what := fmt.Sprintf("%s %s", strings.ToUpper(method), cl.path)
		if status != cl.status {
			t.Errorf("%s = %d, want %d: %s", what, status, cl.status, body)
			continue
		}
		resp, ok := op["responses"].(map[string]any)[fmt.Sprint(status)].(map[string]any)
		if !ok {
			t.Errorf("%s: status %d is not documented", what, status)
			continue
		}
		if r, ok := resp["$ref"].(string); ok {
			resp = c.resolve(r).(map[string]any)
		}
		content, _ := resp["content"].(map[string]any)
		if len(content) == 0 {
			if strings.TrimSpace(body) != "" {
				t.Errorf("%s: documented without a body, got %s", what, body)
			}
			continue
		}
		mt, _, _ := strings.Cut(ctype, ";")
		media, ok := content[mt].(map[string]any)
		if !ok {
			t.Errorf("%s: Content-Type %q is not documented for %d", what, ctype, status)
			continue
		}
		if mt != "application/json" {
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Errorf("%s: %v: %s", what, err, body)
			continue
		}
		for _, e := range c.check(media["schema"].(map[string]any), v, "$") {
			t.Errorf("%s: %s", what, e)
		}
	}
	for op := range documented {
		if !called[op] {
			t.Errorf("%s is documented but the test calls it not", op)
		}
	}
}

// request makes one request; an event stream is read no further than its
// headers.
func request(t *testing.T, method, url, tok, body string, hdr []string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ctype := resp.Header.Get("Content-Type")
	if strings.HasPrefix(ctype, "text/event-stream") {
		return resp.StatusCode, ctype, ""
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, ctype, string(b)
}

// TestOpenAPIEnvironments holds the routes each environment of a
// three-environment server serves under /env/{environment} against the
// operations openapi.json lists with that server.
func TestOpenAPIEnvironments(t *testing.T) {
	srv, ts := threeEnvironments(t, openSQLite(t))
	_, _, body := do(t, "GET", ts.URL+server.OpenAPIPath, "", "")
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	perEnv := map[string]bool{} // "method path" of the operations with /env/{environment}
	for path, item := range doc.Paths {
		for method, raw := range item {
			var op struct {
				Servers []struct{ URL string } `json:"servers"`
			}
			json.Unmarshal(raw, &op)
			for _, s := range op.Servers {
				if s.URL == "/env/{environment}" {
					perEnv[method+" "+path] = true
				}
			}
		}
	}
	browser := map[string]bool{"/": true, "/admin/": true, "GET /admin": true}
	registered := map[string]bool{}
	for _, p := range server.EnvRoutes(srv, "staging") {
		if browser[p] {
			continue
		}
		method, path, ok := strings.Cut(p, " ")
		if !ok { // a subtree: every documented operation under it
			found := false
			for op := range perEnv {
				found = found || strings.HasPrefix(strings.SplitN(op, " ", 2)[1], p)
			}
			if !found {
				t.Errorf("environment route %q is not documented with /env/{environment}", p)
			}
			continue
		}
		op := strings.ToLower(method) + " " + path
		registered[op] = true
		if !perEnv[op] {
			t.Errorf("environment route %q is not documented with /env/{environment}", p)
		}
	}
	if len(registered) == 0 {
		t.Fatal("no environment routes")
	}
	for op := range perEnv {
		if strings.Contains(op, "/api/v1/") && !registered[op] {
			t.Errorf("%s is documented per environment but not served per environment", op)
		}
	}
}
