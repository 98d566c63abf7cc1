package admin

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/flagon/flagon"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// staticVersion is a hash of the embedded assets, appended to their URLs
// so that browsers may cache them for long.
var staticVersion = func() string {
	h := sha256.New()
	fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := staticFS.ReadFile(p)
			h.Write([]byte(p))
			h.Write(b)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)[:6])
}()

var funcs = template.FuncMap{
	"fmtTime":  fmtTime,
	"fmtValue": fmtValue,
	"relTime":  relTime,
	"human":    humanDuration,
	"join":     strings.Join,
	"has": func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	},
	"add":         func(a, b int) int { return a + b },
	"groupDigits": groupDigits,
	// reqRow gives a change request's table row the console's path.
	"reqRow": func(p *page, cr flagon.ChangeRequest) any {
		return struct {
			Base string
			flagon.ChangeRequest
		}{p.Base, cr}
	},
}

// pages holds one template set per page, each the layout plus the page.
var pages = func() map[string]*template.Template {
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html"))
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := make(map[string]*template.Template)
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" || base == "parts.html" {
			continue
		}
		t := template.Must(template.Must(layout.Clone()).ParseFS(templateFS, n))
		out[strings.TrimSuffix(base, ".html")] = t
	}
	return out
}()

// page is what every template sees.
type page struct {
	Title        string
	Nav          string // the navigation item to mark current
	Base         string // the console's path, ending in "/"
	Static       string // the query that versions asset URLs
	Here         string // this page, relative to Base, for coming back
	Principal    Principal
	SignedIn     bool
	CanSignOut   bool
	CSRF         string
	Theme        string // "", "light" or "dark"
	Environment  string
	Production   bool
	Environments []EnvironmentLink // the switcher, on a server with several
	HasStore     bool
	HasAudit     bool
	HasUsers     bool
	HasRequests  bool
	ReadOnlyNote string
	Flash        string
	Undo         *undoForm // what the flash's Undo button posts, if any
	Error        string
	Data         any
}

// CanEdit reports whether the principal may change flags.
func (p *page) CanEdit() bool { return p.Principal.Role >= RoleEditor }

// IsAdmin reports whether the principal is an admin.
func (p *page) IsAdmin() bool { return p.Principal.Role >= RoleAdmin }

// newPage returns the page data every page starts from.
func (c *Console) newPage(r *http.Request, title, nav string, data any) *page {
	q := requestFrom(r.Context())
	p := &page{
		Title:        title,
		Nav:          nav,
		Data:         data,
		Environment:  c.opts.Environment,
		Production:   c.opts.Production,
		Environments: c.opts.EnvironmentLinks,
		HasStore:     c.opts.Store != nil,
		HasAudit:     c.opts.Audit != nil,
		HasUsers:     c.opts.Users != nil,
		HasRequests:  c.opts.ChangeRequests != nil && len(c.opts.ProtectedEnvironments) > 0,
		ReadOnlyNote: c.readNote,
		Static:       "?v=" + staticVersion,
	}
	if q != nil {
		p.Base = q.base
		p.Principal = q.principal
		p.SignedIn = q.principal.Role > RoleNone
		p.CSRF = q.csrf
		p.Theme = q.theme
	}
	p.CanSignOut = p.SignedIn && c.opts.SignIn != nil
	if r.Method == http.MethodGet {
		// Here is where forms come back to: without the query of the
		// flash that this visit shows.
		p.Here = strings.TrimPrefix(r.URL.Path, "/")
		qv := r.URL.Query()
		if qv.Has("done") {
			qv.Del("done")
			qv.Del("undo")
			qv.Del("v")
			if len(qv) > 0 {
				p.Here += "?" + qv.Encode()
			}
		} else if r.URL.RawQuery != "" {
			p.Here += "?" + r.URL.RawQuery
		}
		if !localPath(p.Here) {
			p.Here = ""
		}
	}
	if msg, ok := doneMessages[r.URL.Query().Get("done")]; ok {
		p.Flash = msg
		if p.CanEdit() && p.HasStore {
			p.Undo = undoOf(r.URL.Query(), p.Here)
		}
	}
	return p
}

// undoForm is the form of a flash's Undo button: it posts the kill switch
// back as it was, with the version the change made.
type undoForm struct {
	Key      string
	Version  int64
	Disabled string // "1" or "0": the state to go back to
	Back     string // this page, without the undo query
}

// undoOf returns the Undo form a page's query asks for (after a kill
// switch change: done, undo and v), or nil; here is the page without
// that query.
func undoOf(qv url.Values, here string) *undoForm {
	key := qv.Get("undo")
	v, err := strconv.ParseInt(qv.Get("v"), 10, 64)
	if key == "" || !flagon.ValidKey(key) || err != nil || v < 1 {
		return nil
	}
	u := &undoForm{Key: key, Version: v}
	switch qv.Get("done") {
	case "flag-killed":
		u.Disabled = "0"
	case "flag-unkilled":
		u.Disabled = "1"
	default:
		return nil
	}
	u.Back = here
	return u
}

// doneMessages are the messages a redirect after a successful POST may
// ask for, by code; codes keep arbitrary text out of URLs.
var doneMessages = map[string]string{
	"saved":              "Overrides saved.",
	"saved-capped":       "Overrides saved; where a flag allows shorter overrides than you chose, they last as long as it allows.",
	"removed":            "Override removed.",
	"cleared":            "All overrides cleared.",
	"user-saved":         "Override saved.",
	"user-revoked":       "Override revoked.",
	"account-added":      "User added.",
	"account-saved":      "Roles saved.",
	"account-disabled":   "User disabled: they cannot sign in.",
	"account-enabled":    "User enabled.",
	"account-removed":    "User removed.",
	"first-user":         "User created. The admin password no longer signs in: sign in as the new user.",
	"share-revoked":      "Share link revoked.",
	"flag-created":       "Flag created.",
	"flag-saved":         "Flag saved.",
	"flag-archived":      "Flag archived.",
	"schedule-cancelled": "Scheduled change cancelled: it will not apply.",
	"scheduled":          "Change scheduled.",
	"request-created":    "This environment is protected: your change waits for another person's approval.",
	"request-approved":   "Approved: the change is applied.",
	"request-rejected":   "Change request rejected: nothing changed.",
	"request-conflict":   "The flag changed after this request was made, so nothing was applied. Ask again from the current version.",
	"request-reviewed":   "Reviewed.",
	"flag-killed-review": "Kill switch on: the flag serves its default variant to everyone. This environment is protected, so an admin reviews the change afterwards.",
	"flag-restored":      "Flag restored.",
	"flag-killed":        "Kill switch on: the flag serves its default variant to everyone.",
	"flag-unkilled":      "Kill switch off: the flag's rules apply again.",
	"kill-undone":        "Undone: the kill switch is back as it was.",
	"signed-out":         "You are signed out.",
	"theme":              "",
	"nothing-to-do":      "Nothing changed.",
	"stale-removed":      "Stale overrides removed.",
	"user-cleared":       "Your login's overrides cleared.",
	"share-created":      "Share link created.",
	"audience-saved":     "Audience saved.",
	"audience-deleted":   "Audience deleted.",
}

// render writes a page with the given status.
func (c *Console) render(w http.ResponseWriter, status int, name string, p *page) {
	t, ok := pages[name]
	if !ok {
		panic("admin: no template " + name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		c.log.Error("admin: render page", "page", name, "err", err)
		http.Error(w, "admin: the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// renderError writes an error page that shows nothing but its title and
// the message, together in one card.
func (c *Console) renderError(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	p := c.newPage(r, title, "", msg)
	p.Flash, p.Undo = "", nil
	c.render(w, status, "error", p)
}

// serverError logs err and writes a 500 page that does not show it.
func (c *Console) serverError(w http.ResponseWriter, r *http.Request, what string, err error) {
	c.log.Error("admin: "+what, "err", err, "path", r.URL.Path)
	c.renderError(w, r, http.StatusInternalServerError, "Something went wrong", "The console could not "+what+". The error is in the server's log.")
}

func (c *Console) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	b, err := staticFS.ReadFile(name)
	if err != nil || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	switch path.Ext(name) {
	case ".css":
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case ".js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case ".svg":
		w.Header().Set("Content-Type", "image/svg+xml")
	}
	if r.URL.Query().Get("v") == staticVersion {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	etag := `"` + staticVersion + `"`
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(b)
}

// fmtTime formats a time for tables, or "—" for the zero time.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// relTime says how far t is from now, as "in 3h" or "2d ago".
func relTime(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := t.Sub(now)
	s := shortDuration(d.Abs())
	if d < 0 {
		return s + " ago"
	}
	return "in " + s
}

func shortDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// humanDuration says how long d is in the largest whole unit: "1 day",
// "36 hours", "90 minutes".
func humanDuration(d time.Duration) string {
	unit := func(n int64, name string) string {
		if n == 1 {
			return "1 " + name
		}
		return fmt.Sprintf("%d %ss", n, name)
	}
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return unit(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return unit(int64(d/time.Minute), "minute")
	}
	return d.String()
}

// fmtValue formats a flag value: JSON for objects, Go's formatting else.
func fmtValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "—"
	case string:
		return x
	case map[string]any, []any:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
	return fmt.Sprint(v)
}

// sortedKeys returns the keys of a set, sorted.
func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
