package server

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
)

// maxBody is the largest request body the REST API reads.
const maxBody = 1 << 20

// openAPI describes the REST API and names the other public endpoints;
// GET /api/v1/openapi.json serves it. docs/api.md is its guide.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPIPath is where the server serves its OpenAPI document, without a
// token.
const OpenAPIPath = "/api/v1/openapi.json"

// api is the JSON REST API over a Store: flags, audiences, per-user
// overrides and the audit log.
type api struct {
	store  Store
	tokens []APIToken
	log    *slog.Logger
	env    string
	// multi says the server serves several environments: the
	// definitions hold every environment's settings, so only a token
	// for all of them reaches them.
	multi bool
	// protected are the environments whose changes are reviewed.
	protected []string
}

// handleFunc is a REST API handler: it writes its answer, or returns an
// error for fail to answer with.
type handleFunc func(w http.ResponseWriter, r *http.Request, actor string) error

func (a *api) register(mux *routeMux) {
	h := func(pattern string, write bool, fn handleFunc) {
		mux.Handle(pattern, a.auth(write, fn))
	}
	h("GET /api/v1/flags", false, a.listFlags)
	h("GET /api/v1/flags/{key}", false, a.getFlag)
	h("PUT /api/v1/flags/{key}", true, a.putFlag)
	h("POST /api/v1/flags/{key}/archive", true, a.archiveFlag(true))
	h("POST /api/v1/flags/{key}/restore", true, a.archiveFlag(false))
	h("GET /api/v1/audiences", false, a.listAudiences)
	h("GET /api/v1/audiences/{name}", false, a.getAudience)
	h("PUT /api/v1/audiences/{name}", true, a.putAudience)
	h("DELETE /api/v1/audiences/{name}", true, a.deleteAudience)
	h("GET /api/v1/overrides", false, a.listOverrides)
	h("PUT /api/v1/overrides/{user}/{flag}", true, a.putOverride)
	h("DELETE /api/v1/overrides/{user}/{flag}", true, a.deleteOverride)
	h("GET /api/v1/audit", false, a.audit)
	mux.Handle("GET "+OpenAPIPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(openAPI)
	}))
}

// auth checks the bearer token (or X-API-Key) against the configured
// tokens in constant time. With no tokens configured the API is closed.
func (a *api) auth(write bool, fn handleFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := authenticate(a.tokens, r, "the REST API")
		if err != nil {
			writeError(w, err)
			return
		}
		if write && tok.ReadOnly {
			writeError(w, newError(errForbidden, "token %q is read-only: writing needs a token without :ro", tok.Name))
			return
		}
		if a.multi && tok.Environment != AllEnvironments {
			writeError(w, newError(errForbidden, "token %q is for environment %q: the REST API reads and writes the settings of every environment, so it needs a token for all of them (name:secret:rw:*)", tok.Name, tok.Environment))
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), tokenKey{}, tok))
		if err := fn(w, r, "api:"+tok.Name); err != nil {
			a.fail(w, r, err)
		}
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// decode reads a JSON body strictly: unknown fields and trailing data are
// errors that name what is wrong.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return badField("body", "reading it: %v", err)
	}
	if len(body) > maxBody {
		return badField("body", "more than %d bytes", maxBody)
	}
	return decodeBytes(body, v)
}

// jsonKind says in JSON's words what a value of type t is written as.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Struct {
			return "an array of objects"
		}
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "a JSON value"
}

func decodeBytes(body []byte, v any) error {
	if err := checkDurations(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			// The path names the embedded struct of StoredFlag or
			// StoredAudience, which JSON does not show.
			field := strings.TrimPrefix(strings.TrimPrefix(te.Field, "Flag."), "Audience.")
			return badField(field, "want %s, got %s (see /api/v1/openapi.json)", jsonKind(te.Type), te.Value)
		}
		msg := strings.TrimPrefix(err.Error(), "json: ")
		if f, ok := strings.CutPrefix(msg, "unknown field "); ok {
			return badField(strings.Trim(f, `"`), "unknown field")
		}
		if d, ok := strings.CutPrefix(strings.TrimPrefix(msg, "override: "), "max_duration: "); ok {
			return badField("override.max_duration", "%s", d)
		}
		return badField("body", "%s", msg)
	}
	if dec.More() {
		return badField("body", "trailing data after the JSON value")
	}
	return nil
}

// checkDurations refuses a flag's override.max_duration given as a
// number. The root package reads one as nanoseconds, as old stores wrote
// it; from a person, 86400 means a day and would be 86 µs. The REST API
// takes durations as strings only ("30d").
func checkDurations(body []byte) error {
	var f struct {
		Override struct {
			MaxDuration json.RawMessage `json:"max_duration"`
		} `json:"override"`
	}
	if json.Unmarshal(body, &f) != nil {
		return nil // decode says what is wrong
	}
	if d := f.Override.MaxDuration; len(d) > 0 && d[0] != '"' && string(d) != "null" {
		return badField("override.max_duration", `want a duration string such as "30d", "12h" or "90m", got %s`, d)
	}
	return nil
}

// A resource names what a request is about, for messages.
type resource struct {
	kind string // "flag" or "audience"
	name string
}

func (r resource) String() string { return fmt.Sprintf("%s %q", r.kind, r.name) }

// A precondition is the version a write is based on; zero means none,
// which creates.
type precondition struct {
	version int64
	// ifMatch says the version came from If-Match: when it is stale the
	// answer is 412 Precondition Failed, as HTTP has it, not 409.
	ifMatch bool
}

// precondition reads the version a write to res is based on, from
// If-Match, the version query parameter or the body's version (body,
// zero if it has none). When If-Match and the other disagree, the
// stale one is reported. If-Match: * means the current version.
func (a *api) precondition(r *http.Request, res resource, body int64) (precondition, error) {
	var header int64
	s := r.Header.Get("If-Match")
	if s == "*" {
		// "*": whatever version exists (RFC 9110, 13.1.1), so the
		// current one, and 412 when there is none.
		cur, err := a.currentVersion(r.Context(), res)
		if errors.Is(err, flagon.ErrNotFound) {
			return precondition{}, &apiError{kind: errPrecondition, msg: fmt.Sprintf("%s does not exist, and If-Match: * asks for one that does", res), cause: err}
		}
		if err != nil {
			return precondition{}, err
		}
		s = strconv.Quote(strconv.FormatInt(cur, 10))
	}
	if s != "" {
		v, err := parseVersion(strings.TrimPrefix(s, "W/"), true)
		if err != nil {
			return precondition{}, badField("If-Match", "want the version in quotes, as ETag gives it (such as \"3\"), got %s", s)
		}
		header = v
	}
	if q := r.URL.Query().Get("version"); q != "" {
		v, err := parseVersion(q, false)
		if err != nil {
			return precondition{}, badField("version", "want a version number, got %q", q)
		}
		if body != 0 && body != v {
			return precondition{}, badField("version", "the query says %d but the body says %d", v, body)
		}
		body = v
	}
	switch {
	case header == 0:
		return precondition{version: body}, nil
	case body == 0 || body == header:
		return precondition{version: header, ifMatch: true}, nil
	}
	cur, err := a.currentVersion(r.Context(), res)
	if err != nil {
		return precondition{}, a.explain(r.Context(), err, res, precondition{})
	}
	if cur != header {
		return precondition{}, stale(res, cur, precondition{version: header, ifMatch: true}, nil)
	}
	return precondition{}, stale(res, cur, precondition{version: body}, nil)
}

// parseVersion reads a positive version number, quoted or not.
func parseVersion(s string, quoted bool) (int64, error) {
	if quoted {
		if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
			s = s[1 : len(s)-1]
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 1 {
		return 0, fmt.Errorf("bad version %q", s)
	}
	return v, nil
}

// currentVersion returns res's version in the store.
func (a *api) currentVersion(ctx context.Context, res resource) (int64, error) {
	if res.kind == "flag" {
		f, err := a.store.Flag(ctx, res.name)
		return f.Version, err
	}
	aud, err := a.audience(ctx, res.name)
	return aud.Version, err
}

// stale is the error of a write based on version pre when res is at cur.
func stale(res resource, cur int64, pre precondition, cause error) error {
	kind := flagon.ErrConflict
	if pre.ifMatch {
		kind = errPrecondition
	}
	return &apiError{kind: kind, cause: cause,
		msg: fmt.Sprintf("%s was changed by someone else (version %d, you sent %d): read it again and redo your change", res, cur, pre.version)}
}

// explain turns a store's error about res into one for people, naming res
// and leaving out the store's prefixes; pre is what the write was based
// on. Errors it does not know pass through, to be answered as 5xx.
func (a *api) explain(ctx context.Context, err error, res resource, pre precondition) error {
	var ro *readOnlyError
	switch {
	case errors.As(err, &ro):
		return err
	case errors.Is(err, flagon.ErrConflict):
		cur, cerr := a.currentVersion(ctx, res)
		switch {
		case cerr == nil && pre.version == 0:
			return &apiError{kind: flagon.ErrConflict, cause: err,
				msg: fmt.Sprintf("%s already exists (version %d): send the version you read, in If-Match or the body, to replace it", res, cur)}
		case cerr == nil:
			return stale(res, cur, pre, err)
		}
		return &apiError{kind: flagon.ErrConflict, cause: err,
			msg: fmt.Sprintf("%s was changed by someone else (you sent version %d): read it again and redo your change", res, pre.version)}
	case errors.Is(err, flagon.ErrNotFound):
		msg := fmt.Sprintf("%s does not exist", res)
		if pre.version > 0 {
			msg += fmt.Sprintf(" (you sent version %d; send none to create it)", pre.version)
		}
		return &apiError{kind: flagon.ErrNotFound, msg: msg, cause: err}
	case errors.Is(err, flagon.ErrInvalid):
		return invalid(err)
	}
	return err
}

func (a *api) change(r *http.Request, actor string) flagon.Change {
	return flagon.Change{Actor: actor, Reason: r.Header.Get("Flagon-Reason"), Environment: a.env}
}

// setETag sets the ETag of a flag or audience at version v; a version of
// zero (definitions from a file) has none.
func setETag(w http.ResponseWriter, v int64) {
	if v > 0 {
		w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(v, 10)))
	}
}

func (a *api) listFlags(w http.ResponseWriter, r *http.Request, _ string) error {
	flags, err := a.store.Flags(r.Context())
	if err != nil {
		return err
	}
	if flags == nil {
		flags = []flagon.StoredFlag{}
	}
	writeJSON(w, http.StatusOK, flags)
	return nil
}

func (a *api) getFlag(w http.ResponseWriter, r *http.Request, _ string) error {
	return a.writeFlag(w, r, r.PathValue("key"))
}

// writeFlag answers with the flag as the store has it now.
func (a *api) writeFlag(w http.ResponseWriter, r *http.Request, key string) error {
	f, err := a.store.Flag(r.Context(), key)
	if err != nil {
		return a.explain(r.Context(), err, resource{"flag", key}, precondition{})
	}
	setETag(w, f.Version)
	writeJSON(w, http.StatusOK, f)
	return nil
}

// putFlag creates or replaces a flag. The body is a flag as GET returns
// it: its version is a precondition, as If-Match is, and the fields only
// the store sets (archived, updated_at, updated_by) are ignored.
func (a *api) putFlag(w http.ResponseWriter, r *http.Request, actor string) error {
	var body flagon.StoredFlag
	if err := decode(r, &body); err != nil {
		return err
	}
	key := r.PathValue("key")
	res := resource{"flag", key}
	if body.Key == "" {
		body.Key = key
	}
	if body.Key != key {
		return badField("key", "the body names flag %q but the path names %q", body.Key, key)
	}
	pre, err := a.precondition(r, res, body.Version)
	if err != nil {
		return err
	}
	var (
		cur    flagon.StoredFlag
		review string
	)
	if a.unprivileged(r) != "" {
		if cur, err = a.store.Flag(r.Context(), key); err != nil && !errors.Is(err, flagon.ErrNotFound) {
			return err
		}
		review = a.reviewEnv(r, cur.Flag, body.Flag)
	}
	if review != "" && !flagon.OnlyKills(cur.Flag, body.Flag, review) {
		if cur.Version != pre.version {
			return a.explain(r.Context(), fmt.Errorf("%w: version %d given, flag is at %d", flagon.ErrConflict, pre.version, cur.Version), res, pre)
		}
		return a.propose(w, r, actor, flagon.ChangeRequest{Flag: key, BaseVersion: pre.version, Proposed: body.Flag}, review)
	}
	if _, err := a.store.PutFlag(r.Context(), body.Flag, pre.version, a.change(r, actor)); err != nil {
		return a.explain(r.Context(), err, res, pre)
	}
	if review != "" {
		a.recordEmergency(r, actor, flagon.ChangeRequest{Flag: key, BaseVersion: pre.version, Proposed: body.Flag, Emergency: true}, review)
	}
	return a.writeFlag(w, r, key)
}

func (a *api) archiveFlag(archived bool) handleFunc {
	return func(w http.ResponseWriter, r *http.Request, actor string) error {
		key := r.PathValue("key")
		res := resource{"flag", key}
		pre, err := a.precondition(r, res, 0)
		if err != nil {
			return err
		}
		if pre.version == 0 {
			return badField("If-Match", "archiving and restoring need the version you read, in If-Match (or ?version=)")
		}
		if env := a.unprivileged(r); env != "" {
			return newError(errForbidden, "%s is protected: archiving and restoring there need a token with :admin", env)
		}
		if _, err := a.store.ArchiveFlag(r.Context(), key, archived, pre.version, a.change(r, actor)); err != nil {
			return a.explain(r.Context(), err, res, pre)
		}
		return a.writeFlag(w, r, key)
	}
}

func (a *api) listAudiences(w http.ResponseWriter, r *http.Request, _ string) error {
	auds, err := a.store.Audiences(r.Context())
	if err != nil {
		return err
	}
	if auds == nil {
		auds = []flagon.StoredAudience{}
	}
	writeJSON(w, http.StatusOK, auds)
	return nil
}

// audience returns the named audience, or flagon.ErrNotFound.
func (a *api) audience(ctx context.Context, name string) (flagon.StoredAudience, error) {
	auds, err := a.store.Audiences(ctx)
	if err != nil {
		return flagon.StoredAudience{}, err
	}
	for _, aud := range auds {
		if aud.Name == name {
			return aud, nil
		}
	}
	return flagon.StoredAudience{}, flagon.ErrNotFound
}

func (a *api) getAudience(w http.ResponseWriter, r *http.Request, _ string) error {
	return a.writeAudience(w, r, r.PathValue("name"))
}

// writeAudience answers with the audience as the store has it now.
func (a *api) writeAudience(w http.ResponseWriter, r *http.Request, name string) error {
	aud, err := a.audience(r.Context(), name)
	if err != nil {
		return a.explain(r.Context(), err, resource{"audience", name}, precondition{})
	}
	setETag(w, aud.Version)
	writeJSON(w, http.StatusOK, aud)
	return nil
}

// putAudience creates or replaces an audience; like putFlag, it takes
// what GET returns.
func (a *api) putAudience(w http.ResponseWriter, r *http.Request, actor string) error {
	var body flagon.StoredAudience
	if err := decode(r, &body); err != nil {
		return err
	}
	name := r.PathValue("name")
	res := resource{"audience", name}
	if body.Name == "" {
		body.Name = name
	}
	if body.Name != name {
		return badField("name", "the body names audience %q but the path names %q", body.Name, name)
	}
	pre, err := a.precondition(r, res, body.Version)
	if err != nil {
		return err
	}
	// Flags of every environment share an audience: replacing one
	// changes protected environments without review, so there it takes
	// an :admin token (docs/decisions/0173). Creating one changes nothing.
	if env := a.unprivileged(r); env != "" && pre.version != 0 {
		return newError(errForbidden, "audience %q is shared by the protected environment %q: replacing it needs an :admin token", name, env)
	}
	if _, err := a.store.PutAudience(r.Context(), body.Audience, pre.version, a.change(r, actor)); err != nil {
		return a.explain(r.Context(), err, res, pre)
	}
	return a.writeAudience(w, r, name)
}

func (a *api) deleteAudience(w http.ResponseWriter, r *http.Request, actor string) error {
	name := r.PathValue("name")
	res := resource{"audience", name}
	pre, err := a.precondition(r, res, 0)
	if err != nil {
		return err
	}
	if pre.version == 0 {
		return badField("If-Match", "deleting needs the version you read, in If-Match (or ?version=)")
	}
	err = a.store.DeleteAudience(r.Context(), name, pre.version, a.change(r, actor))
	if errors.Is(err, flagon.ErrInvalid) {
		return inUse(name, err)
	}
	if err != nil {
		return a.explain(r.Context(), err, res, pre)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// inUse is the error of deleting an audience that live flags refer to;
// err lists where.
func inUse(name string, err error) error {
	ae := invalid(err)
	seen := map[string]bool{}
	var flags []string
	for _, f := range ae.fields {
		if f.Flag != "" && !seen[f.Flag] {
			seen[f.Flag] = true
			flags = append(flags, strconv.Quote(f.Flag))
		}
	}
	sort.Strings(flags)
	ae.kind = errInUse
	ae.msg = fmt.Sprintf("audience %q is in use by flag %s: remove it from their rules first", name, strings.Join(flags, ", "))
	return ae
}

// overrideJSON is a per-user override as the REST API shows it.
type overrideJSON struct {
	User      string    `json:"user"`
	Flag      string    `json:"flag"`
	Value     any       `json:"value"`
	Source    string    `json:"source,omitempty"`
	SetAt     time.Time `json:"set_at,omitzero"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

func toOverrideJSON(uo flagonhttp.UserOverride) overrideJSON {
	return overrideJSON{User: uo.User, Flag: uo.Flag, Value: uo.Value, Source: uo.Source, SetAt: uo.SetAt, ExpiresAt: uo.ExpiresAt}
}

func (a *api) listOverrides(w http.ResponseWriter, r *http.Request, _ string) error {
	out := []overrideJSON{}
	if user := r.URL.Query().Get("user"); user != "" {
		m, err := a.store.UserOverrides(r.Context(), user)
		if err != nil {
			return err
		}
		for k, o := range m {
			out = append(out, toOverrideJSON(flagonhttp.UserOverride{User: user, Flag: k, Override: o}))
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Flag < out[j].Flag })
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	all, err := a.store.AllUserOverrides(r.Context())
	if err != nil {
		return err
	}
	for _, uo := range all {
		out = append(out, toOverrideJSON(uo))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// overrideRequest is the body of PUT /api/v1/overrides/{user}/{flag}.
type overrideRequest struct {
	Value any `json:"value"`
	// Duration is how long the override lasts, as config files write
	// durations ("12h", "7d"); absent means the flag policy's longest.
	Duration json.RawMessage `json:"duration"`
}

// parseDurationJSON reads a JSON duration string such as "12h" or "7d";
// an absent one is zero.
func parseDurationJSON(field string, raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, badField(field, `want a duration string such as "12h", "90m" or "7d", got %s`, raw)
	}
	d, err := flagon.ParseDuration(s)
	if err != nil {
		return 0, badField(field, `want a duration such as "12h", "90m" or "7d", got %q`, s)
	}
	return d, nil
}

func (a *api) putOverride(w http.ResponseWriter, r *http.Request, actor string) error {
	var req overrideRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	d, err := parseDurationJSON("duration", req.Duration)
	if err != nil {
		return err
	}
	user, key := r.PathValue("user"), r.PathValue("flag")
	defs, _, err := a.store.Load(r.Context())
	if err != nil {
		return err
	}
	snap, err := flagon.NewSnapshot(defs, flagon.SnapshotOptions{Environment: a.env})
	if err != nil {
		return err
	}
	f, ok := snap.Flag(key)
	if !ok {
		return newError(flagon.ErrNotFound, "flag %q does not exist (or is archived)", key)
	}
	v := req.Value
	if n, ok := v.(json.Number); ok {
		v = jsonNumber(n)
	}
	cv, err := snap.CheckOverride(key, v)
	if err != nil {
		return badField("value", "%v", err)
	}
	maxDur := f.Override.EffectiveMaxDuration()
	if d > maxDur {
		return badField("duration", "%s is longer than flag %q allows (%s)", flagon.FormatDuration(d), key, flagon.FormatDuration(maxDur))
	}
	if d == 0 {
		d = maxDur
	}
	now := time.Now().UTC()
	uo := flagonhttp.UserOverride{User: user, Flag: key, Override: flagon.Override{Value: cv, Source: "user", SetAt: now, ExpiresAt: now.Add(d)}}
	if err := a.store.SetUserOverride(r.Context(), uo, a.change(r, actor)); err != nil {
		if errors.Is(err, flagon.ErrInvalid) {
			return invalid(err)
		}
		return err
	}
	writeJSON(w, http.StatusOK, toOverrideJSON(uo))
	return nil
}

func jsonNumber(n json.Number) any {
	if i, err := n.Int64(); err == nil {
		return i
	}
	if f, err := n.Float64(); err == nil {
		return f
	}
	return n.String()
}

func (a *api) deleteOverride(w http.ResponseWriter, r *http.Request, actor string) error {
	if err := a.store.DeleteUserOverride(r.Context(), r.PathValue("user"), r.PathValue("flag"), a.change(r, actor)); err != nil {
		if errors.Is(err, flagon.ErrInvalid) {
			return invalid(err)
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// timeRange reads the since and until parameters of q into since and
// until, leaving those not given: each an RFC 3339 time, or a duration
// ("24h", "7d") meaning that long before now.
func timeRange(q url.Values, now time.Time, since, until *time.Time) error {
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", since}, {"until", until}} {
		s := q.Get(p.name)
		if s == "" {
			continue
		}
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			*p.dst = t
			continue
		}
		d, err := flagon.ParseDuration(s)
		if err != nil {
			return badField(p.name, "want an RFC 3339 time or a duration such as 24h or 7d (that long ago), got %q", s)
		}
		*p.dst = now.Add(-d)
	}
	return nil
}

func (a *api) audit(w http.ResponseWriter, r *http.Request, _ string) error {
	q := r.URL.Query()
	aq := flagon.AuditQuery{Target: q.Get("target"), Actor: q.Get("actor")}
	if err := timeRange(q, time.Now(), &aq.Since, &aq.Until); err != nil {
		return err
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			return badField("limit", "want 1 to 10000, got %q", s)
		}
		aq.Limit = n
	}
	entries, err := a.store.Audit(r.Context(), aq)
	if err != nil {
		return err
	}
	if entries == nil {
		entries = []flagon.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, entries)
	return nil
}

// routeMux is a ServeMux that remembers its patterns, so that tests can
// hold what the server serves against what openapi.json describes.
type routeMux struct {
	*http.ServeMux
	patterns []string
}

// Handle registers h for pattern and remembers the pattern.
func (m *routeMux) Handle(pattern string, h http.Handler) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.Handle(pattern, h)
}
