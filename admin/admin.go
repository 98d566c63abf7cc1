package admin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
)

// DefaultReadOnlyNote is what the console says when Options.Store is nil.
const DefaultReadOnlyNote = "flags come from the configuration file; edit it and it reloads"

// Options configures the console. The zero value is a valid configuration
// that shows nothing: with no Authorize, every request is refused.
type Options struct {
	// Client evaluates flags: the overrides and explain pages show what it
	// serves. It is the application's client, following the same source
	// as the application.
	Client *flagon.Client

	// Store, if set, makes flags and audiences editable. Nil shows them
	// read-only, with ReadOnlyNote saying why.
	Store flagon.Store
	// Audit, if set, is the audit log the console shows and appends the
	// browser overrides it sets to; usually the same value as Store.
	Audit flagon.AuditLog
	// UserOverrides, if set, keeps per-login overrides; ShareTokens, if
	// set, lists share links and lets them be revoked. Usually both are
	// the same value as Store (sqlite.Store and postgres.Store are all
	// four).
	UserOverrides flagonhttp.UserOverrideStore
	ShareTokens   flagonhttp.ShareTokenStore
	// Usage, if set, is where evaluation counts are kept: the flags list
	// shows when each flag was last evaluated and how often, a flag's page
	// charts its evaluations per variant and names the applications that
	// evaluate it, and the "Ready to remove" page lists flags nothing
	// uses. Nil shows no usage. Usually the same value as Store.
	Usage flagon.UsageStore
	// Users, if set, are the people who sign in (see
	// PasswordOptions.Users): admins list, add, change, disable and
	// remove them on the Accounts page. Usually the same value as Store.
	Users flagon.UserStore
	// Schedules, if set, keeps scheduled flag changes: a flag's page
	// lists its own, and editors cancel pending ones there. Usually the
	// same value as Store.
	Schedules flagon.ScheduleStore
	// ChangeRequests, if set, keeps the change requests of protected
	// environments: editors' changes there wait on the Requests page for
	// another person's approval. Usually the same value as Store.
	ChangeRequests flagon.ChangeRequestStore
	// ProtectedEnvironments are the environments where a flag change by
	// someone who is not an admin there becomes a change request, which an
	// admin other than its author approves or rejects; turning a kill
	// switch on applies at once and waits for a review after the fact
	// (docs/decisions/0173). Without ChangeRequests, only admins change
	// flags there.
	ProtectedEnvironments []string
	// ReadOnlyNote says where flags come from when Store is nil, such as
	// "flags come from the config file flags.yaml; edit it and it
	// reloads". Empty means DefaultReadOnlyNote.
	ReadOnlyNote string

	// Authorize says who makes a request. It returns ErrUnauthenticated
	// (or an error wrapping it) for a request without credentials, and
	// ErrForbidden or a principal with RoleNone for one that may not use
	// the console. Nil refuses every request.
	Authorize func(*http.Request) (Principal, error)
	// SignIn, if set, is served at "signin", "signin/…" and "signout" under the
	// console's path, and browsers without credentials are sent there.
	// A *PasswordAuth is one.
	SignIn http.Handler

	// Overrides are the options of the application's flagonhttp
	// middleware: the console reads and writes the override cookie they
	// describe (keys, name, domain), builds this browser's evaluation
	// context with their Context, reads per-login overrides as their
	// UserOverrides does, and mints share links with their keys. Their
	// keys also sign the console's form tokens, and their CookieSecure
	// says when the console's own cookies are Secure. Nil is the zero
	// flagonhttp.Options, whose per-process key suits only a console in
	// the same process as the application.
	Overrides *flagonhttp.Options
	// OverridePath is where the application mounts
	// flagonhttp.OverrideHandler, the target of share links; empty means
	// flagonhttp.DefaultOverridePath.
	OverridePath string

	// Environment names the environment this console shows and edits by
	// default, such as "production".
	Environment string
	// Production marks Environment as production: flag changes there ask
	// for a confirmation and a reason.
	Production bool
	// Environments lists other environments whose per-environment flag
	// settings the flag editor offers, beside those the flags mention.
	Environments []string
	// EnvironmentLinks, if set, are every environment of a server that
	// serves several, each with its own console: the header switches
	// between them, the flags list shows each flag's state in every one
	// side by side, and the editor edits this console's Environment
	// unless told another. A change to a production-like environment, or
	// to what every environment shares (the flag's own settings,
	// audiences) while one is production-like, asks for a confirmation.
	EnvironmentLinks []EnvironmentLink

	// BasePath is the path the console is mounted at as browsers see it,
	// such as "/admin/". Empty means it is computed from each request
	// (the request URI less the path the handler was given), which is
	// right unless a proxy rewrites paths.
	BasePath string
	// TrustedOrigins are origins, besides the console's own, allowed to
	// POST to it (see http.CrossOriginProtection.AddTrustedOrigin).
	TrustedOrigins []string

	// Logger receives errors and every change made through the console.
	// Nil means slog.Default().
	Logger *slog.Logger

	// Now tells the time by which the console judges usage windows,
	// expiry dates, stale overrides and share links; nil means time.Now.
	// Tests set it to move the console through days.
	Now func() time.Time
}

// An EnvironmentLink names an environment and where its console is.
type EnvironmentLink struct {
	Name       string
	Production bool
	// Path is the console's path, such as "/env/staging/admin/".
	Path string
}

// Console is the admin UI, an http.Handler. Make one with Handler.
type Console struct {
	opts     Options
	log      *slog.Logger
	mux      *http.ServeMux
	cop      *http.CrossOriginProtection
	codec    *flagonhttp.Codec
	policy   *flagonhttp.Policy
	now      func() time.Time
	authz    func(*http.Request) (Principal, error)
	readNote string
	// applied is the application's flagonhttp middleware, which the pages
	// that evaluate flags run behind, so that they apply the overrides
	// the application applies.
	applied func(http.Handler) http.Handler
}

// Handler returns the console for opts. A nil opts is the zero Options.
// Invalid trusted origins are logged and ignored.
func Handler(opts *Options) *Console {
	if opts == nil {
		opts = &Options{}
	}
	c := &Console{opts: *opts, log: opts.Logger, now: time.Now, authz: opts.Authorize, readNote: opts.ReadOnlyNote}
	if c.log == nil {
		c.log = slog.Default()
	}
	if opts.Now != nil {
		c.now = opts.Now
	}
	if c.authz == nil {
		c.authz = denyAll
	}
	if c.readNote == "" {
		c.readNote = DefaultReadOnlyNote
	}
	c.cop = http.NewCrossOriginProtection()
	for _, o := range opts.TrustedOrigins {
		if err := c.cop.AddTrustedOrigin(o); err != nil {
			c.log.Warn("admin: ignoring trusted origin", "origin", o, "err", err)
		}
	}
	if c.opts.Overrides == nil {
		c.opts.Overrides = &flagonhttp.Options{}
	}
	c.codec = flagonhttp.NewCodec(c.opts.Overrides)
	c.policy = flagonhttp.NewPolicy(c.opts.Overrides)
	// Whoever signs in to the console is staff: the console lets them
	// override staff-policy flags. Policy still refuses none-policy flags,
	// values outside the type or policy, and durations past the maximum.
	c.policy.CanOverride = func(*http.Request, flagon.Flag) bool { return true }
	if c.opts.OverridePath == "" {
		c.opts.OverridePath = flagonhttp.DefaultOverridePath
	}
	mw := *c.opts.Overrides
	if mw.UserOverrides == nil && c.opts.UserOverrides != nil {
		mw.UserOverrides = UserOverrides(c.opts.UserOverrides, c.authz)
	}
	c.applied = flagonhttp.Middleware(c.opts.Client, &mw)
	c.routes()
	return c
}

func (c *Console) routes() {
	m := http.NewServeMux()
	c.mux = m
	m.HandleFunc("GET /{$}", c.need(RoleViewer, c.asApplied(c.overridesPage)))
	m.HandleFunc("GET /overrides", c.need(RoleViewer, c.asApplied(c.overridesPage)))
	m.HandleFunc("POST /overrides", c.need(RoleViewer, c.asApplied(c.saveOverrides)))
	m.HandleFunc("POST /overrides/remove", c.need(RoleViewer, c.removeOverride))
	m.HandleFunc("POST /overrides/clear", c.need(RoleViewer, c.clearOverrides))
	m.HandleFunc("GET /users", c.need(RoleAdmin, c.usersPage))
	m.HandleFunc("POST /users/set", c.need(RoleAdmin, c.setUserOverride))
	m.HandleFunc("POST /users/revoke", c.need(RoleAdmin, c.revokeUserOverride))
	m.HandleFunc("GET /accounts", c.need(RoleAdmin, c.accountsPage))
	m.HandleFunc("POST /accounts/new", c.need(RoleAdmin, c.addAccount))
	m.HandleFunc("POST /accounts/{name}/change", c.need(RoleAdmin, c.changeAccount))
	m.HandleFunc("POST /accounts/{name}/remove", c.need(RoleAdmin, c.removeAccount))
	m.HandleFunc("GET /share", c.need(RoleEditor, c.sharePage))
	m.HandleFunc("POST /share", c.need(RoleEditor, c.mintShare))
	m.HandleFunc("POST /share/revoke", c.need(RoleEditor, c.revokeShare))
	m.HandleFunc("GET /flags", c.need(RoleViewer, c.flagsPage))
	m.HandleFunc("GET /removable", c.need(RoleViewer, c.removablePage))
	m.HandleFunc("GET /flags/new", c.need(RoleEditor, c.newFlagPage))
	m.HandleFunc("POST /flags/new", c.need(RoleEditor, c.createFlag))
	m.HandleFunc("GET /flags/{key}", c.need(RoleViewer, c.flagPage))
	m.HandleFunc("POST /flags/{key}", c.need(RoleEditor, c.updateFlag))
	m.HandleFunc("POST /flags/{key}/archive", c.need(RoleEditor, c.archiveFlag))
	m.HandleFunc("POST /flags/{key}/kill", c.need(RoleEditor, c.killFlag))
	m.HandleFunc("POST /flags/{key}/schedules/{id}/cancel", c.need(RoleEditor, c.cancelScheduled))
	m.HandleFunc("POST /flags/{key}/schedule", c.need(RoleEditor, c.scheduleFlag))
	m.HandleFunc("GET /requests", c.need(RoleViewer, c.requestsPage))
	m.HandleFunc("GET /requests/{id}", c.need(RoleViewer, c.requestPage))
	m.HandleFunc("POST /requests/{id}/approve", c.need(RoleEditor, c.reviewRequest(true)))
	m.HandleFunc("POST /requests/{id}/reject", c.need(RoleEditor, c.reviewRequest(false)))
	m.HandleFunc("GET /audiences", c.need(RoleViewer, c.audiencesPage))
	m.HandleFunc("GET /audiences/{name}", c.need(RoleViewer, c.audiencePage))
	m.HandleFunc("POST /audiences/new", c.need(RoleEditor, c.saveAudience))
	m.HandleFunc("POST /audiences/{name}", c.need(RoleEditor, c.saveAudience))
	m.HandleFunc("POST /audiences/{name}/delete", c.need(RoleEditor, c.deleteAudience))
	m.HandleFunc("GET /explain", c.need(RoleViewer, c.asApplied(c.explainPage)))
	m.HandleFunc("GET /audit", c.need(RoleViewer, c.auditPage))
	m.HandleFunc("POST /theme", c.need(RoleViewer, c.setTheme))
	m.HandleFunc("/", c.need(RoleViewer, c.notFound))
}

// request is what the console knows about one request: where it is
// mounted, who asks, and the form token to embed.
type request struct {
	base      string
	principal Principal
	csrf      string
	seed      string // the CSRF cookie's value
	theme     string
	now       time.Time
	console   *Console
}

type requestKey struct{}

// consoleFrom returns the console serving the request, for handlers the
// console calls, such as PasswordAuth.
func consoleFrom(ctx context.Context) *Console {
	if q := requestFrom(ctx); q != nil {
		return q.console
	}
	return nil
}

func requestFrom(ctx context.Context) *request {
	q, _ := ctx.Value(requestKey{}).(*request)
	return q
}

// ServeHTTP implements http.Handler.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "same-origin")
	hdr.Set("X-Frame-Options", "DENY")

	base := c.basePath(r)
	if !strings.HasPrefix(r.URL.Path, "/") {
		r2 := new(http.Request)
		*r2 = *r
		u := *r.URL
		u.Path = "/" + u.Path
		u.RawPath = ""
		r2.URL = &u
		r = r2
	}
	if strings.HasPrefix(r.URL.Path, "/static/") {
		c.serveStatic(w, r)
		return
	}
	q := &request{base: base, now: c.now(), theme: themeOf(r), console: c}
	q.csrf = c.csrfToken(w, r, q)
	r = r.WithContext(context.WithValue(r.Context(), requestKey{}, q))

	if r.URL.Path == "/signin" || r.URL.Path == "/signout" || strings.HasPrefix(r.URL.Path, "/signin/") {
		if c.opts.SignIn == nil {
			c.renderError(w, r, http.StatusNotFound, "Not found", "There is no sign-in page here.")
			return
		}
		// Someone signed in (signing out, say) has forms made for them.
		if p, err := c.authz(r); err == nil && p.Role > RoleNone {
			q.principal = p
			q.csrf = c.csrfToken(w, r, q)
		}
		if !c.checkPost(w, r, q) {
			return
		}
		hdr.Set("Cache-Control", "no-store")
		c.opts.SignIn.ServeHTTP(w, r)
		return
	}

	p, err := c.authz(r)
	if err == nil && p.Role <= RoleNone {
		err = ErrForbidden
	}
	if err != nil {
		c.refuse(w, r, q, err)
		return
	}
	q.principal = p
	q.csrf = c.csrfToken(w, r, q)
	if !c.checkPost(w, r, q) {
		return
	}
	hdr.Set("Cache-Control", "no-store")
	c.mux.ServeHTTP(w, r)
}

// refuse answers a request that Authorize refused, naming no flags.
func (c *Console) refuse(w http.ResponseWriter, r *http.Request, q *request, err error) {
	w.Header().Set("Cache-Control", "no-store")
	if errors.Is(err, ErrForbidden) {
		c.failSay(w, r, err, "Your account may not use the flag console. Ask an administrator for access.", "authorize")
		return
	}
	if c.opts.SignIn != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		next := strings.TrimPrefix(r.URL.Path, "/")
		if r.URL.RawQuery != "" {
			next += "?" + r.URL.RawQuery
		}
		// No body: the default one would echo the path, which may name a
		// flag.
		w.Header().Set("Location", q.base+"signin?next="+url.QueryEscape(next))
		w.WriteHeader(http.StatusSeeOther)
		return
	}
	if !errors.Is(err, ErrUnauthenticated) {
		c.log.Warn("admin: authorize", "err", err, "path", r.URL.Path)
	}
	msg := "Sign in to use the flag console."
	if c.opts.Authorize == nil {
		msg = "The flag console has no way to tell who you are (admin.Options.Authorize is not set), so it lets no one in."
	}
	c.failSay(w, r, ErrUnauthenticated, msg, "")
}

// checkPost refuses a non-safe request that fails cross-origin protection
// or carries no valid form token. It reports whether to go on.
func (c *Console) checkPost(w http.ResponseWriter, r *http.Request, q *request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	if err := c.cop.Check(r); err != nil {
		c.renderError(w, r, http.StatusForbidden, "Request refused", "This form was sent from another site, so it was refused.")
		return false
	}
	if !c.validCSRF(r, q) {
		c.renderError(w, r, http.StatusForbidden, "Form expired", "This form has expired or was not sent from the console. Go back, reload the page and try again.")
		return false
	}
	return true
}

// asApplied runs a page behind the application's middleware (see
// Options.Overrides): its request's context then carries the evaluation
// context and the override layers (flagonhttp.OverrideLayers) that the
// application gives this browser.
func (c *Console) asApplied(h func(http.ResponseWriter, *http.Request, *request)) func(http.ResponseWriter, *http.Request, *request) {
	return func(w http.ResponseWriter, r *http.Request, q *request) {
		c.applied(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(w, r, q) })).ServeHTTP(w, r)
	}
}

// need wraps a page handler with the role it requires.
func (c *Console) need(role Role, h func(http.ResponseWriter, *http.Request, *request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := requestFrom(r.Context())
		if q.principal.Role < role {
			c.failSay(w, r, ErrForbidden, "This page needs the "+role.String()+" role; you are signed in as "+q.principal.Role.String()+".", "")
			return
		}
		h(w, r, q)
	}
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request, q *request) {
	c.failSay(w, r, flagon.ErrNotFound, "There is no page at this address.", "")
}

// basePath returns the path the console is mounted at, ending in "/".
func (c *Console) basePath(r *http.Request) string {
	if b := c.opts.BasePath; b != "" {
		if !strings.HasSuffix(b, "/") {
			b += "/"
		}
		return b
	}
	orig := r.RequestURI
	if i := strings.IndexAny(orig, "?#"); i >= 0 {
		orig = orig[:i]
	}
	if u, err := url.ParseRequestURI(orig); err == nil && u.Host != "" {
		orig = u.EscapedPath()
	}
	if !strings.HasPrefix(orig, "/") {
		return "/"
	}
	tail := strings.TrimPrefix(r.URL.EscapedPath(), "/")
	if !strings.HasSuffix(orig, tail) {
		return "/"
	}
	b := orig[:len(orig)-len(tail)]
	if !strings.HasSuffix(b, "/") {
		b += "/"
	}
	return b
}

// redirect answers a successful POST by sending the browser to path
// (relative to the console) with a message code.
func (c *Console) redirect(w http.ResponseWriter, r *http.Request, q *request, path string, done string) {
	if done != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "done=" + url.QueryEscape(done)
	}
	http.Redirect(w, r, q.base+path, http.StatusSeeOther)
}

// snapshot returns the client's current snapshot, or an empty one.
func (c *Console) snapshot() *flagon.Snapshot {
	if s := c.opts.Client.Snapshot(); s != nil {
		return s
	}
	return flagon.MustSnapshot(flagon.Definitions{}, flagon.SnapshotOptions{Environment: c.opts.Environment})
}

// change returns the audit record of a change made by q's principal.
func (c *Console) change(q *request, reason string) flagon.Change {
	return flagon.Change{Actor: q.principal.Name, Reason: reason, Environment: c.opts.Environment}
}
