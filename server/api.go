package server

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
)

// maxBody is the largest request body the REST API reads.
const maxBody = 1 << 20

// api is the JSON REST API over a Store: flags, audiences, per-user
// overrides and the audit log.
type api struct {
	store  Store
	tokens []APIToken
	log    *slog.Logger
	env    string
}

func (a *api) register(mux *http.ServeMux) {
	h := func(pattern string, write bool, fn func(w http.ResponseWriter, r *http.Request, actor string) error) {
		mux.Handle(pattern, a.auth(write, fn))
	}
	h("GET /api/v1/flags", false, a.listFlags)
	h("GET /api/v1/flags/{key}", false, a.getFlag)
	h("PUT /api/v1/flags/{key}", true, a.putFlag)
	h("POST /api/v1/flags/{key}/archive", true, a.archiveFlag(true))
	h("POST /api/v1/flags/{key}/restore", true, a.archiveFlag(false))
	h("GET /api/v1/audiences", false, a.listAudiences)
	h("PUT /api/v1/audiences/{name}", true, a.putAudience)
	h("DELETE /api/v1/audiences/{name}", true, a.deleteAudience)
	h("GET /api/v1/overrides", false, a.listOverrides)
	h("PUT /api/v1/overrides/{user}/{flag}", true, a.putOverride)
	h("DELETE /api/v1/overrides/{user}/{flag}", true, a.deleteOverride)
	h("GET /api/v1/audit", false, a.audit)
}

// auth checks the bearer token (or X-API-Key) against the configured
// tokens in constant time. With no tokens configured the API is closed.
func (a *api) auth(write bool, fn func(http.ResponseWriter, *http.Request, string) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, status, msg := authenticate(a.tokens, r, "the REST API")
		if tok == nil {
			writeAuthError(w, status, msg)
			return
		}
		if write && tok.ReadOnly {
			writeError(w, http.StatusForbidden, "token "+tok.Name+" is read-only", nil)
			return
		}
		if err := fn(w, r, "api:"+tok.Name); err != nil {
			a.fail(w, r, err)
		}
	})
}

// statusOf is the one table that maps errors to HTTP status codes.
func statusOf(err error) int {
	var se *statusError
	switch {
	case errors.As(err, &se):
		return se.status
	case errors.Is(err, flagon.ErrNotFound), errors.Is(err, flagon.ErrFlagNotFound):
		return http.StatusNotFound
	case errors.Is(err, flagon.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, flagon.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, flagon.ErrReadOnly):
		return http.StatusMethodNotAllowed
	case unavailable(err):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// unavailable reports whether err means the store cannot be reached, as
// opposed to a bug: a network error, a refused connection, a timeout.
func unavailable(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, driver.ErrBadConn)
}

// statusError is a request error with its status and the field it names.
type statusError struct {
	status int
	field  string
	msg    string
}

func (e *statusError) Error() string { return e.field + ": " + e.msg }

func badField(field, format string, args ...any) error {
	return &statusError{status: http.StatusBadRequest, field: field, msg: fmt.Sprintf(format, args...)}
}

type fieldJSON struct {
	Flag     string `json:"flag,omitempty"`
	Audience string `json:"audience,omitempty"`
	Field    string `json:"field"`
	Message  string `json:"message"`
}

func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	var fields []fieldJSON
	var fes flagon.FieldErrors
	var fe *flagon.FieldError
	var se *statusError
	switch {
	case errors.As(err, &fes):
		for _, e := range fes {
			fields = append(fields, fieldJSON{Flag: e.Flag, Audience: e.Audience, Field: e.Field, Message: e.Msg})
		}
	case errors.As(err, &fe):
		fields = append(fields, fieldJSON{Flag: fe.Flag, Audience: fe.Audience, Field: fe.Field, Message: fe.Msg})
	case errors.As(err, &se):
		fields = append(fields, fieldJSON{Field: se.field, Message: se.msg})
	}
	msg := err.Error()
	if status >= 500 {
		a.log.LogAttrs(r.Context(), slog.LevelError, "flagon: api", slog.String("path", r.URL.Path), slog.Any("error", err))
		msg = "internal error; see the server log"
		if status == http.StatusServiceUnavailable {
			msg = "the store is unavailable; try again"
		}
	}
	writeError(w, status, msg, fields)
}

func writeError(w http.ResponseWriter, status int, msg string, fields []fieldJSON) {
	writeJSON(w, status, struct {
		Error  string      `json:"error"`
		Fields []fieldJSON `json:"fields,omitempty"`
	}{msg, fields})
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
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return badField(te.Field, "want a JSON %s, got %s", te.Type, te.Value)
		}
		return badField("body", "%v", err)
	}
	if dec.More() {
		return badField("body", "trailing data after the JSON value")
	}
	return nil
}

// version reads the version a write is based on, from If-Match or the
// version query parameter; absent means 0 (create).
func version(r *http.Request) (int64, error) {
	s := strings.Trim(r.Header.Get("If-Match"), `"W/`)
	field := "If-Match"
	if s == "" {
		s, field = r.URL.Query().Get("version"), "version"
	}
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0, badField(field, "want a version number, got %q", s)
	}
	return v, nil
}

func (a *api) change(r *http.Request, actor string) flagon.Change {
	return flagon.Change{Actor: actor, Reason: r.Header.Get("Flagon-Reason"), Environment: a.env}
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
	f, err := a.store.Flag(r.Context(), r.PathValue("key"))
	if err != nil {
		return err
	}
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(f.Version, 10)))
	writeJSON(w, http.StatusOK, f)
	return nil
}

func (a *api) putFlag(w http.ResponseWriter, r *http.Request, actor string) error {
	v, err := version(r)
	if err != nil {
		return err
	}
	var f flagon.Flag
	if err := decode(r, &f); err != nil {
		return err
	}
	key := r.PathValue("key")
	if f.Key == "" {
		f.Key = key
	}
	if f.Key != key {
		return badField("key", "body names flag %q but the path names %q", f.Key, key)
	}
	nv, err := a.store.PutFlag(r.Context(), f, v, a.change(r, actor))
	if err != nil {
		return err
	}
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(nv, 10)))
	writeJSON(w, http.StatusOK, map[string]int64{"version": nv})
	return nil
}

func (a *api) archiveFlag(archived bool) func(http.ResponseWriter, *http.Request, string) error {
	return func(w http.ResponseWriter, r *http.Request, actor string) error {
		v, err := version(r)
		if err != nil {
			return err
		}
		if v == 0 {
			return badField("If-Match", "archiving needs the version you read")
		}
		nv, err := a.store.ArchiveFlag(r.Context(), r.PathValue("key"), archived, v, a.change(r, actor))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]int64{"version": nv})
		return nil
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

func (a *api) putAudience(w http.ResponseWriter, r *http.Request, actor string) error {
	v, err := version(r)
	if err != nil {
		return err
	}
	var aud flagon.Audience
	if err := decode(r, &aud); err != nil {
		return err
	}
	name := r.PathValue("name")
	if aud.Name == "" {
		aud.Name = name
	}
	if aud.Name != name {
		return badField("name", "body names audience %q but the path names %q", aud.Name, name)
	}
	nv, err := a.store.PutAudience(r.Context(), aud, v, a.change(r, actor))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int64{"version": nv})
	return nil
}

func (a *api) deleteAudience(w http.ResponseWriter, r *http.Request, actor string) error {
	v, err := version(r)
	if err != nil {
		return err
	}
	if err := a.store.DeleteAudience(r.Context(), r.PathValue("name"), v, a.change(r, actor)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *api) listOverrides(w http.ResponseWriter, r *http.Request, _ string) error {
	if user := r.URL.Query().Get("user"); user != "" {
		m, err := a.store.UserOverrides(r.Context(), user)
		if err != nil {
			return err
		}
		out := []flagonhttp.UserOverride{}
		for k, o := range m {
			out = append(out, flagonhttp.UserOverride{User: user, Flag: k, Override: o})
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	all, err := a.store.AllUserOverrides(r.Context())
	if err != nil {
		return err
	}
	if all == nil {
		all = []flagonhttp.UserOverride{}
	}
	writeJSON(w, http.StatusOK, all)
	return nil
}

// overrideRequest is the body of PUT /api/v1/overrides/{user}/{flag}.
type overrideRequest struct {
	Value    any   `json:"value"`
	Duration int64 `json:"duration"` // seconds; 0 means the flag policy's longest
}

func (a *api) putOverride(w http.ResponseWriter, r *http.Request, actor string) error {
	var req overrideRequest
	if err := decode(r, &req); err != nil {
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
		return fmt.Errorf("flag %q: %w", key, flagon.ErrNotFound)
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
	d := time.Duration(req.Duration) * time.Second
	if req.Duration < 0 || d > maxDur {
		return badField("duration", "want 0 to %d seconds", int64(maxDur/time.Second))
	}
	if d == 0 {
		d = maxDur
	}
	now := time.Now().UTC()
	o := flagon.Override{Value: cv, Source: "user", SetAt: now, ExpiresAt: now.Add(d)}
	if err := a.store.SetUserOverride(r.Context(), flagonhttp.UserOverride{User: user, Flag: key, Override: o}, a.change(r, actor)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, flagonhttp.UserOverride{User: user, Flag: key, Override: o})
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
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *api) audit(w http.ResponseWriter, r *http.Request, _ string) error {
	q := r.URL.Query()
	aq := flagon.AuditQuery{Target: q.Get("target"), Actor: q.Get("actor")}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &aq.Since}, {"until", &aq.Until}} {
		if s := q.Get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return badField(p.name, "want an RFC 3339 time, got %q", s)
			}
			*p.dst = t
		}
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
