package flagonhttp

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/flagon/flagon"
)

// The route patterns at which Mount serves this package's handlers.
const (
	DefaultOverridePattern = "/features/{name}"
	DefaultFeaturesPattern = "GET /features.json"
	// DefaultOverridePath is the path prefix of override links (see Link).
	DefaultOverridePath = "/features/"
)

// maxFormSize bounds the body of an override link's POST.
const maxFormSize = 64 << 10

// Mount mounts OverrideHandler at DefaultOverridePattern and
// FeaturesHandler at DefaultFeaturesPattern on mux. Put the mux behind
// Middleware with the same opts.
func Mount(mux *http.ServeMux, c *flagon.Client, opts *Options) {
	mux.Handle(DefaultOverridePattern, OverrideHandler(c, opts))
	mux.Handle(DefaultFeaturesPattern, FeaturesHandler(c, opts))
}

// OverrideHandler returns the set-and-redirect link: mounted at
// "/features/{name}", a request such as
//
//	GET /features/new-home-page?enable=true&duration=86400&redirect_url=/
//
// sets an override of the flag in the signed cookie and redirects (303) to
// redirect_url. Parameters, from the query or a POSTed form:
//
//   - enable: true, false or default (remove the override); for flags
//     that are not bool, value=<variant or value> instead.
//   - duration: seconds, 0 to 31536000; 0 removes the override; missing
//     means Options.DefaultDuration, capped by the flag's policy.
//   - redirect_url: where to go next, a same-origin path or an allowed
//     host (see SafeRedirect); missing means "/".
//   - token: a share token (MintShareToken), which sets the value and
//     duration it binds.
//
// A GET changes state only for flags whose policy is anyone, or when it
// carries a valid share token. For other flags a GET from a permitted
// browser shows a page with a button that POSTs the same request; POSTs
// must pass Options.CrossOrigin and the policy (see Policy).
//
// An unknown flag gives 404; a bad parameter, 400 naming it; a refusal by
// the policy, 403. Errors are HTML for browsers (Accept: text/html), JSON
// for clients that ask (Accept: application/json), text otherwise.
func OverrideHandler(c *flagon.Client, opts *Options) http.Handler {
	return &overrideHandler{cfg: newConfig(c, opts)}
}

type overrideHandler struct {
	cfg *config
}

// OverrideEvent describes an override that the override link set or
// removed in a browser's cookie; Options.OnOverride receives it.
type OverrideEvent struct {
	// Flag is the flag's key.
	Flag string
	// Before is the value of the override the cookie held for the flag
	// until now, or nil if it held none.
	Before any
	// After is the override's new value, or nil when it was removed.
	After any
	// Duration is how long the new override lasts, and ExpiresAt when it
	// lapses; both are zero when it was removed.
	Duration  time.Duration
	ExpiresAt time.Time
	// Via says how it was set: "link" (an override link) or "share-link"
	// (a link carrying a share token).
	Via string
	// TokenID is the ID of the share token used, if Via is "share-link".
	TokenID string
}

// The values of OverrideEvent.Via.
const (
	ViaLink      = "link"
	ViaShareLink = "share-link"
)

// fieldError is one bad parameter.
type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// request is an override link's parsed request.
type linkRequest struct {
	flag     flagon.Flag
	fi       *flagInfo
	remove   bool
	value    any
	duration time.Duration
	redirect string
	token    *ShareToken
	form     url.Values
	snap     *flagon.Snapshot // the snapshot the flag was found in
}

// ServeHTTP answers an override link in three steps: parse the request,
// check it against the method rules and the flag's policy, and apply it to
// the cookie.
func (h *overrideHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	lr, err := h.parse(w, r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	confirm, err := h.check(r, lr)
	switch {
	case err != nil:
		writeError(w, r, err)
	case confirm:
		h.confirm(w, r, lr)
	default:
		if err := h.apply(w, r, lr); err != nil {
			writeError(w, r, err)
		}
	}
}

// parse checks the method (and a POST's origin), reads the parameters and
// finds the flag. The error is a *requestError.
func (h *overrideHandler) parse(w http.ResponseWriter, r *http.Request) (*linkRequest, error) {
	cfg := h.cfg
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		if err := cfg.opts.CrossOrigin.Check(r); err != nil {
			return nil, fail(errCrossOrigin, fieldError{"origin", "cross-origin request refused: " + err.Error()})
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFormSize)
	default:
		w.Header().Set("Allow", "GET, POST")
		return nil, fail(errMethod, fieldError{"method", r.Method + " is not allowed: use GET or POST"})
	}
	if err := r.ParseForm(); err != nil {
		return nil, fail(errBadRequest, fieldError{"query", "cannot parse the parameters: " + err.Error()})
	}
	name := r.PathValue("name")
	if name == "" {
		name = path.Base(r.URL.Path)
	}
	snap := cfg.client.Snapshot()
	if snap == nil {
		return nil, fail(ErrNotReady, fieldError{"name", "flags are not loaded yet"})
	}
	fi := cfg.info.get(snap).flags[name]
	if fi == nil {
		return nil, fail(flagon.ErrNotFound, fieldError{"name", fmt.Sprintf("no flag named %q", name)})
	}
	lr, errs := cfg.parseLink(r, fi)
	if len(errs) > 0 {
		return nil, fail(errBadRequest, errs...)
	}
	lr.snap = snap
	return lr, nil
}

// check decides who may do what, and by which method: it returns an error
// for a request the policy refuses, and confirm for a GET that may not
// change state itself, which a browser confirms with a POST.
func (h *overrideHandler) check(r *http.Request, lr *linkRequest) (confirm bool, err error) {
	fi, get := lr.fi, r.Method == http.MethodGet
	switch {
	case lr.token != nil:
		if fi.who == flagon.WhoNone {
			return false, fail(ErrNotOverridable, fieldError{"name", fmt.Sprintf("flag %q may not be overridden", fi.key)})
		}
		if err := checkDuration(fi.flag, lr.duration); err != nil {
			return false, fail(errRefused, fieldError{"token", "the flag's policy no longer allows this link: " + err.Error()})
		}
		return false, nil
	case lr.remove:
		return fi.who != flagon.WhoAnyone && get, nil
	}
	if _, err := h.cfg.policy.Permit(r, lr.snap, fi.key); err != nil {
		return false, fail(err, fieldError{"name", policyMessage(err)})
	}
	if err := checkDuration(fi.flag, lr.duration); err != nil {
		return false, fail(err, fieldError{"duration", policyMessage(err)})
	}
	return fi.who != flagon.WhoAnyone && get, nil
}

// apply rewrites the cookie (the entries that still apply, with this one
// set or removed), logs the change, tells Options.OnOverride and redirects.
func (h *overrideHandler) apply(w http.ResponseWriter, r *http.Request, lr *linkRequest) error {
	cfg, name, now := h.cfg, lr.fi.key, h.cfg.now()
	current, err := cfg.codec.Read(r, lr.snap)
	if err != nil {
		cfg.warnOnce("override cookie", err.Error(), err)
	}
	entries := make([]Entry, 0, len(current)+1)
	var before any
	for _, e := range current {
		switch {
		case e.Status != EntryActive:
		case e.Flag == name:
			before = e.Value
		default:
			entries = append(entries, e)
		}
	}
	if !lr.remove {
		entries = append(entries, Entry{Flag: name, Value: lr.value, SetAt: now, ExpiresAt: now.Add(lr.duration)})
	}
	if err := cfg.codec.Write(w, r, entries); err != nil {
		return fail(err, fieldError{"cookie", fmt.Sprintf("cannot store %d overrides in one cookie: clear some first (%v)", len(entries), err)})
	}
	attrs := []slog.Attr{slog.String("flag", name), slog.String("method", r.Method)}
	if lr.remove {
		attrs = append(attrs, slog.Bool("removed", true))
	} else {
		attrs = append(attrs, slog.Any("value", lr.value), slog.Duration("duration", lr.duration))
	}
	if lr.token != nil {
		attrs = append(attrs, slog.String("token", lr.token.ID))
	}
	cfg.log.LogAttrs(r.Context(), slog.LevelInfo, "flagonhttp: override link", attrs...)
	if cfg.opts.OnOverride != nil && (!lr.remove || before != nil) {
		ev := OverrideEvent{Flag: name, Before: before, Via: ViaLink}
		if !lr.remove {
			ev.After, ev.Duration, ev.ExpiresAt = lr.value, lr.duration, now.Add(lr.duration)
		}
		if lr.token != nil {
			ev.Via, ev.TokenID = ViaShareLink, lr.token.ID
		}
		cfg.opts.OnOverride(r, ev)
	}
	w.Header().Set("Location", lr.redirect)
	w.WriteHeader(http.StatusSeeOther)
	return nil
}

// policyMessage returns the words of a policy error without its flag,
// which the page already names.
func policyMessage(err error) string {
	var pe *PolicyError
	if errors.As(err, &pe) {
		if pe.Msg != "" {
			return pe.Err.Error() + ": " + pe.Msg
		}
		return pe.Err.Error()
	}
	return err.Error()
}

// parseLink reads and checks an override link's parameters, naming every
// bad one.
func (cfg *config) parseLink(r *http.Request, fi *flagInfo) (*linkRequest, []fieldError) {
	form := r.Form
	lr := &linkRequest{flag: fi.flag, fi: fi, form: form}
	var errs []fieldError
	bad := func(field, format string, args ...any) {
		errs = append(errs, fieldError{field, fmt.Sprintf(format, args...)})
	}
	isBool := fi.typ == flagon.TypeBool

	var haveValue bool
	switch enable := form.Get("enable"); enable {
	case "":
	case "default":
		lr.remove = true
	case "true", "false":
		if !isBool {
			bad("enable", "flag %q is a %s flag: use value=<variant> instead of enable=%s", fi.key, fi.typ, enable)
			break
		}
		lr.value, haveValue = enable == "true", true
	default:
		bad("enable", "%q is not one of true, false, default", enable)
	}
	if form.Has("value") {
		text := form.Get("value")
		switch {
		case haveValue || lr.remove:
			bad("value", "give enable or value, not both")
		case text == "default":
			lr.remove = true
		default:
			v, _, ok := fi.fromText(text)
			if !ok {
				bad("value", "%q is neither a variant of flag %q (%s) nor a %s value", text, fi.key, variantList(fi), fi.typ)
			} else {
				lr.value, haveValue = v, true
			}
		}
	}

	lr.duration = min(cfg.opts.DefaultDuration, fi.maxDur)
	if form.Has("duration") {
		d := form.Get("duration")
		secs, err := strconv.ParseInt(d, 10, 64)
		switch {
		case err != nil || d == "" || d[0] == '+' || d[0] == '-' && secs == 0:
			bad("duration", "%q is not a whole number of seconds", d)
		case secs < 0 || secs > MaxDurationSeconds:
			bad("duration", "%d is not between 0 and %d seconds", secs, MaxDurationSeconds)
		case secs == 0:
			lr.remove = true
		default:
			lr.duration = time.Duration(secs) * time.Second
		}
	}

	var err error
	if lr.redirect, err = SafeRedirect(form.Get("redirect_url"), cfg.opts.AllowedRedirectHosts); err != nil {
		bad("redirect_url", "%v", err)
	}

	if form.Has("token") {
		st, err := VerifyShareToken(cfg.opts.Keys, form.Get("token"), cfg.now())
		switch {
		case err != nil:
			bad("token", "%v", err)
		case st.Flag != fi.key:
			bad("token", "the token is for flag %q, not %q", st.Flag, fi.key)
		case cfg.opts.TokenRevoked != nil && cfg.opts.TokenRevoked(st.ID):
			bad("token", "token %s has been revoked", st.ID)
		case lr.remove:
			bad("token", "a share link sets the value it was made for; use enable=default without a token to remove an override")
		default:
			v, _, ok := fi.fromGo(st.Value)
			if !ok {
				bad("token", "the token's value %v is not a %s value", st.Value, fi.typ)
				break
			}
			if haveValue && !sameValue(v, lr.value) {
				bad(valueField(isBool), "the share link sets %v, not %v", v, lr.value)
			}
			if form.Has("duration") && time.Duration(st.Duration) != lr.duration {
				bad("duration", "the share link sets %d seconds", int64(st.Duration/time.Second))
			}
			lr.token, lr.value, lr.duration, haveValue = &st, v, st.Duration, true
		}
	}
	if len(errs) == 0 && !haveValue && !lr.remove {
		if isBool {
			bad("enable", "missing: give enable=true, false or default")
		} else {
			bad("value", "missing: give value=<variant> (%s) or enable=default", variantList(fi))
		}
	}
	if len(errs) == 0 && !lr.remove && lr.token == nil {
		if _, i, _ := fi.fromGo(lr.value); !fi.permits(i) {
			bad(valueField(isBool), "the flag's policy allows only %s", allowedList(fi))
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if lr.token != nil {
		if _, i, _ := fi.fromGo(lr.value); !fi.permits(i) {
			return nil, []fieldError{{"token", "the flag's policy no longer allows this value: it allows " + allowedList(fi)}}
		}
	}
	return lr, nil
}

func valueField(isBool bool) string {
	if isBool {
		return "enable"
	}
	return "value"
}

func sameValue(a, b any) bool {
	if flagon.ValueEqual(a, b) {
		return true
	}
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

func variantList(fi *flagInfo) string {
	names := make([]string, len(fi.flag.Variants))
	for i, v := range fi.flag.Variants {
		names[i] = v.Name
	}
	return strings.Join(names, ", ")
}

func allowedList(fi *flagInfo) string {
	var names []string
	for i, v := range fi.flag.Variants {
		if fi.permits(i) {
			names = append(names, v.Name)
		}
	}
	return strings.Join(names, ", ")
}

// confirm shows a browser a page whose button POSTs the link's request: a
// GET may not change a staff flag. Clients that are not browsers are told
// to POST.
func (h *overrideHandler) confirm(w http.ResponseWriter, r *http.Request, lr *linkRequest) {
	if negotiate(r) != "html" {
		w.Header().Set("Allow", "POST")
		writeError(w, r, fail(errMethod, fieldError{"method", fmt.Sprintf("flag %q is not open to anyone: POST this request", lr.flag.Key)}))
		return
	}
	action := "Turn " + lr.flag.Key + " to " + fmt.Sprint(lr.value)
	if lr.remove {
		action = "Remove the override of " + lr.flag.Key
	}
	var fields []fieldError
	for _, k := range []string{"enable", "value", "duration", "redirect_url"} {
		if lr.form.Has(k) {
			fields = append(fields, fieldError{k, lr.form.Get(k)})
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = confirmPage.Execute(w, map[string]any{
		"Flag":   lr.flag,
		"Action": action,
		"Fields": fields,
		"Path":   r.URL.Path,
	})
}

var confirmPage = template.Must(template.New("confirm").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{.Action}}</title></head>
<body>
<h1>{{.Action}}?</h1>
{{with .Flag.Description}}<p>{{.}}</p>{{end}}
<p>This flag is open to staff only; confirm to set the override in this browser.</p>
<form method="post" action="{{.Path}}">
{{range .Fields}}<input type="hidden" name="{{.Field}}" value="{{.Message}}">
{{end}}<button type="submit">{{.Action}}</button>
</form>
</body></html>
`))

// negotiate returns "html", "json" or "text": what the client prefers of
// the error formats.
func negotiate(r *http.Request) string {
	accept := strings.ToLower(r.Header.Get("Accept"))
	h := strings.Index(accept, "text/html")
	j := strings.Index(accept, "json")
	switch {
	case h >= 0 && (j < 0 || h < j):
		return "html"
	case j >= 0:
		return "json"
	}
	return "text"
}

// writeError writes the response to a refused request, with the status
// statusOf gives err, naming the bad fields (those of a *requestError) in
// the form the client prefers.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	var errs []fieldError
	if re, ok := err.(*requestError); ok {
		errs = re.fields
	} else {
		errs = []fieldError{{"request", err.Error()}}
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	switch negotiate(r) {
	case "html":
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		_ = errorPage.Execute(w, map[string]any{"Status": status, "Text": http.StatusText(status), "Errors": errs})
	case "json":
		h.Set("Content-Type", "application/json")
		w.WriteHeader(status)
		body := struct {
			Status int          `json:"status"`
			Error  string       `json:"error"`
			Fields []fieldError `json:"fields"`
		}{status, http.StatusText(status), errs}
		_ = json.NewEncoder(w).Encode(body)
	default:
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, "%d %s\n", status, http.StatusText(status))
		for _, e := range errs {
			fmt.Fprintf(w, "%s: %s\n", e.Field, e.Message)
		}
	}
}

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Status}} {{.Text}}</title></head>
<body>
<h1>{{.Status}} {{.Text}}</h1>
<ul>
{{range .Errors}}<li><code>{{.Field}}</code>: {{.Message}}</li>
{{end}}</ul>
</body></html>
`))

// Link returns the path of the override link that sets flag to value for
// d, then sends the browser to redirect: enable=true|false for a bool,
// value=… for other values, enable=default to remove the override when
// value is nil. A zero d and an empty redirect are left out (the handler's
// defaults apply).
func Link(flag string, value any, d time.Duration, redirect string) string {
	q := url.Values{}
	switch v := value.(type) {
	case nil:
		q.Set("enable", "default")
	case bool:
		q.Set("enable", strconv.FormatBool(v))
	case string:
		q.Set("value", v)
	default:
		b, _ := json.Marshal(v)
		q.Set("value", string(b))
	}
	if d > 0 {
		q.Set("duration", strconv.FormatInt(int64(d/time.Second), 10))
	}
	if redirect != "" {
		q.Set("redirect_url", redirect)
	}
	return DefaultOverridePath + url.PathEscape(flag) + "?" + q.Encode()
}

// ShareLink returns the path of the override link that applies a share
// token minted by MintShareToken.
func ShareLink(flag, token, redirect string) string {
	q := url.Values{"token": {token}}
	if redirect != "" {
		q.Set("redirect_url", redirect)
	}
	return DefaultOverridePath + url.PathEscape(flag) + "?" + q.Encode()
}
