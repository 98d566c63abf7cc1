// Package server assembles `flagon serve`: a client following a store (or
// a config file), the admin UI, the REST API, the OFREP endpoints, the
// snapshot endpoint that remote sources follow, the override link and
// /features.json, /healthz and /metrics. cmd/flagon reads the settings
// and calls it; tests run it in process with httptest.
//
// To start:
//
//	st, _ := server.OpenStore(ctx, "sqlite://flagon.db")
//	ring, _ := server.OpenKeyring(ctx, st, nil)
//	srv, _ := server.New(ctx, st, &server.Options{APITokens: tokens, Keys: ring.Keys()})
//	defer srv.Close()
//	http.ListenAndServe("127.0.0.1:8080", srv.Handler())
//
// NewRelay assembles `flagon relay` instead: a read-only replica that
// follows a server (or another relay) and serves OFREP, /features.json and
// the snapshot near the applications (docs/decisions/0160).
//
// What is open without a token, and why, is in docs/decisions/0008.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/admin"
	"github.com/flagon/flagon/flagonhttp"
	"github.com/flagon/flagon/ofrep"
	"github.com/flagon/flagon/postgres"
	"github.com/flagon/flagon/remote"
	"github.com/flagon/flagon/server/demo"
)

// Options configures a Server. The zero value serves the store's flags
// with a closed REST API and snapshot endpoint (no tokens), open OFREP
// endpoints, a generated admin password, per-process signing keys, and
// no demo.
type Options struct {
	// Environment selects each flag's per-environment settings.
	Environment string
	// Production marks the environment as production: the admin UI asks
	// for a confirmation and a reason before changes, and responses carry
	// no override-count header.
	Production bool
	// APITokens grant access to the REST API and the snapshot endpoint;
	// none closes both.
	APITokens []APIToken
	// OFREPKeys are the API keys OFREP clients present; none leaves the
	// OFREP endpoints open.
	OFREPKeys []string

	// Source, if set, is where flags come from instead of the store: a
	// config file that is the source of truth (file.Source). The console
	// and the REST API then show flags read-only, saying FlagsFrom;
	// overrides, share links and the audit log still live in the store.
	Source flagon.StatusSource
	// FlagsFrom names Source for people, such as "the config file
	// flags.yaml".
	FlagsFrom string

	// Demo mounts the demo shop at / with its self-chosen identities, and
	// seeds an empty store with its flags. New refuses it for a
	// production environment and for PostgreSQL.
	Demo bool

	// AdminPassword is the shared admin password; empty generates one
	// (see Server.GeneratedPassword). People sign in to the console as the
	// users of the store (flagon users add); the shared password signs in
	// only while the store has no users, as the bootstrap admin "admin",
	// to create the first (docs/decisions/0170).
	AdminPassword string
	// OIDC, if set, offers OpenID Connect sign-in to the console beside
	// the users of the store (docs/decisions/0172). Its RedirectURL, if
	// empty, is PublicURL plus /admin/ plus admin.OIDCCallbackPath.
	OIDC *admin.OIDCOptions
	// AuthHeader, if set, believes the sign-in headers of an
	// authenticating proxy from the addresses it names
	// (admin.HeaderAuth); its Environment and Logger are the server's.
	AuthHeader *admin.HeaderOptions

	// Keys sign override cookies, headers, share links and console
	// sessions (see OpenKeyring). Nil means a per-process key: all of
	// them end with the process.
	Keys *flagonhttp.Keys

	// PublicURL is the URL browsers use, such as https://flags.example.com.
	// An https URL makes every cookie Secure, for a proxy that
	// terminates TLS; its host is accepted in Host headers.
	PublicURL string
	// AllowedHosts are further Host header values accepted (host, or
	// host:port). With neither these nor PublicURL every Host is
	// accepted; otherwise others get 421, which stops DNS rebinding.
	// Loopback names are always accepted.
	AllowedHosts []string
	// CORSOrigins are the origins of pages on other sites that may call
	// OFREP and /features.json from a browser ("*" for any); none sends
	// no CORS headers. Cookies are not sent cross-origin.
	CORSOrigins []string

	// TrustedProxies are the addresses whose X-Forwarded-For is believed,
	// for throttling and the audit log; none believes no one.
	TrustedProxies []netip.Prefix

	// AuditRetention is how long audit entries are kept; zero means
	// DefaultAuditRetention, negative forever.
	AuditRetention time.Duration
	// UsageRetention is how long hourly usage counts are kept; zero means
	// DefaultUsageRetention, negative forever.
	UsageRetention time.Duration
	// MetricsFlags caps the flags /metrics names in its per-flag
	// evaluation counters; zero means DefaultMetricsFlags, negative names
	// none (all are counted as flag="(other)").
	MetricsFlags int
	// AnonymousAuditRate is how many override-link entries a minute one
	// anonymous client may add to the audit log; zero means
	// DefaultAnonymousAuditRate.
	AnonymousAuditRate int
	// AnonymousAuditTotal is how many such entries an hour all anonymous
	// clients together may add; zero means DefaultAnonymousAuditTotal.
	AnonymousAuditTotal int

	// ScheduleInterval is how often the server applies the scheduled
	// changes that have fallen due (it also does at start); zero means
	// DefaultScheduleInterval, negative never. A server whose flags come
	// from Source applies none.
	ScheduleInterval time.Duration
	// Now is the server's clock for scheduled changes; nil means
	// time.Now.
	Now func() time.Time

	// Logger receives the server's logs; nil means slog.Default().
	Logger *slog.Logger
	// StoreSource tunes how the server follows its store.
	StoreSource flagon.StoreSourceOptions
}

// A Server is a running `flagon serve`: a client following a store (or a
// config file), and the HTTP handler over both.
type Server struct {
	store   Store
	source  flagon.StatusSource
	closeFn []func() error
	client  *flagon.Client
	metrics *metrics
	handler http.Handler
	log     *slog.Logger
	cancel  context.CancelFunc
	now     func() time.Time
	// usageDone is closed when the server's own usage counts are written.
	usageDone chan struct{}

	generatedPassword string
	httpOpts          *flagonhttp.Options
	routes            []string // the patterns of the server's mux
}

// ErrDemoInProduction is New's refusal to run the demo where it would
// undo the safety of production.
var ErrDemoInProduction = errors.New("the demo runs only outside production: its identities are cookies anyone can set")

// New starts following the store (or opts.Source) and builds the handler.
func New(ctx context.Context, st Store, opts *Options) (*Server, error) {
	if opts == nil {
		opts = &Options{}
	}
	s := &Server{store: st, metrics: newMetrics(), log: opts.Logger, now: opts.Now}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if opts.Demo {
		if err := demoAllowed(st, opts); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		if err := seedDemo(ctx, st); err != nil {
			return nil, fmt.Errorf("server: seed demo flags: %w", err)
		}
	}
	publicURL, err := parsePublicURL(opts.PublicURL)
	if err != nil {
		return nil, fmt.Errorf("server: public URL: %w", err)
	}

	if err := s.follow(ctx, st, opts); err != nil {
		return nil, err
	}
	s.client = flagon.NewClient(s.source, &flagon.Options{Logger: s.log})
	s.metrics.usage = newUsageCollector(s.client, st, opts.MetricsFlags, s.log)
	s.source.Subscribe(func(*flagon.Snapshot) { s.metrics.reloads.Add(1) })

	secure := flagonhttp.SecureAuto
	if publicURL != nil && publicURL.Scheme == "https" {
		secure = flagonhttp.SecureAlways
	}
	clientIP := clientIPFunc(opts.TrustedProxies)
	if opts.Keys == nil {
		s.log.Warn("flagon: no signing keys given; using a per-process key, so override cookies, share links and console sessions end with this process")
	}
	password := opts.AdminPassword
	if password == "" {
		password = admin.GeneratePassword()
		s.generatedPassword = password
	}
	oidcOpts, err := oidcOptions(opts.OIDC, publicURL)
	if err != nil {
		return nil, fmt.Errorf("server: OIDC: %w", err)
	}
	auth, err := admin.NewPasswordAuth(password, &admin.PasswordOptions{
		Keys: opts.Keys, CookiePath: "/", Secure: secure, ClientIP: clientIP,
		Users: st, Environment: opts.Environment, OIDC: oidcOpts,
	})
	if err != nil {
		return nil, fmt.Errorf("server: admin sign-in: %w", err)
	}
	authorize := auth.Authorize
	if opts.AuthHeader != nil {
		ho := *opts.AuthHeader
		ho.Environment, ho.Logger = opts.Environment, s.log
		authorize = admin.NewHeaderAuth(&ho).Then(auth.Authorize)
	}
	audit := &browserAudit{
		log: st, logger: s.log, env: opts.Environment, who: authorize, clientIP: clientIP,
		limit: newRateLimit(cmp(opts.AnonymousAuditRate, DefaultAnonymousAuditRate), time.Minute, maxRateClients),
		total: newRateLimit(cmp(opts.AnonymousAuditTotal, DefaultAnonymousAuditTotal), time.Hour, 1),
		now:   time.Now,
	}
	s.metrics.auditDropped = audit.dropped.Load
	s.httpOpts = &flagonhttp.Options{
		Keys:          opts.Keys,
		CookieSecure:  secure,
		CORSOrigins:   opts.CORSOrigins,
		Production:    opts.Production,
		ManageURL:     "/admin/overrides",
		Logger:        s.log,
		TokenRevoked:  flagonhttp.TokenRevokedIn(st),
		UserOverrides: admin.UserOverrides(st, authorize),
		OnOverride:    audit.onOverride,
		// Who may override staff-policy flags: whoever is signed in to
		// the console, never a value a visitor sends.
		CanOverride: func(r *http.Request, f flagon.Flag) bool {
			p, err := authorize(r)
			return err == nil && p.Role > admin.RoleNone
		},
	}
	if opts.Demo {
		s.httpOpts.Context = demo.Context
		s.httpOpts.CanOverride = func(r *http.Request, f flagon.Flag) bool {
			p, err := authorize(r)
			return err == nil && p.Role > admin.RoleNone || demo.CanOverride(r, f)
		}
	}

	mux := &routeMux{ServeMux: http.NewServeMux()}
	consoleOpts := &admin.Options{
		Client:        s.client,
		Store:         st,
		Audit:         st,
		UserOverrides: st,
		ShareTokens:   st,
		Usage:         st,
		Users:         st,
		Schedules:     st,
		Authorize:     authorize,
		SignIn:        auth,
		Overrides:     s.httpOpts,
		Environment:   opts.Environment,
		Production:    opts.Production,
		Logger:        s.log,
	}
	apiStore := st
	if opts.Source != nil {
		consoleOpts.Store = nil
		consoleOpts.ReadOnlyNote = readOnlyNote(opts.FlagsFrom)
		apiStore = withDefinitionsFrom(st, s.source, consoleOpts.ReadOnlyNote)
	}
	mux.Handle("/admin/", http.StripPrefix("/admin", admin.Handler(consoleOpts)))
	mux.Handle("GET /admin", http.RedirectHandler("/admin/", http.StatusMovedPermanently))
	rest := &api{store: apiStore, tokens: opts.APITokens, log: s.log, env: opts.Environment}
	rest.register(mux)
	rest.registerSchedule(mux)
	rest.registerUsage(mux, st, time.Now)
	// OFREP requests carry their own context in the body; the middleware
	// adds the overrides of a signed Flagon-Overrides header or override
	// cookie, which the OFREP handler applies.
	ofrepOpts := *s.httpOpts
	ofrepOpts.Context = nil
	mux.Handle("/ofrep/", flagonhttp.Middleware(s.client, &ofrepOpts)(
		ofrep.Handler(s.client, &ofrep.Options{APIKeys: opts.OFREPKeys, Logger: s.log, CORSOrigins: opts.CORSOrigins})))
	snapshots := requireToken(opts.APITokens, "the snapshot endpoint", remote.Handler(s.source))
	mux.Handle("GET "+remote.SnapshotPath, snapshots)
	mux.Handle("GET "+remote.EventsPath, snapshots)
	mux.Handle("GET /healthz", health(s.client))
	mux.Handle("GET /metrics", s.metrics.handler(s.client))

	// The override link and /features.json, for browsers; the demo shop
	// at / in demo mode, else a pointer to the console.
	site := http.NewServeMux()
	flagonhttp.Mount(site, s.client, s.httpOpts)
	var front http.Handler = flagonhttp.Middleware(s.client, s.httpOpts)(site)
	if opts.Demo {
		demo.Routes(site, s.client)
		front = demo.WithVisitor(front)
	} else {
		site.Handle("GET /{$}", http.RedirectHandler("/admin/", http.StatusSeeOther))
	}
	mux.Handle("/", front)

	var hosts []string
	if publicURL != nil {
		hosts = append(hosts, publicURL.Host)
	}
	hosts = append(hosts, opts.AllowedHosts...)
	s.handler = hostCheck(hosts, mux)
	s.routes = mux.patterns

	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	if retention := cmp(opts.AuditRetention, DefaultAuditRetention); retention > 0 {
		go prune(bg, "the audit log", st.PruneAudit, retention, s.log)
	}
	s.usageDone = make(chan struct{})
	go func() {
		defer close(s.usageDone)
		s.metrics.usage.run(bg)
	}()
	if retention := cmp(opts.UsageRetention, DefaultUsageRetention); retention > 0 {
		go prune(bg, "usage", st.PruneUsage, retention, s.log)
	}
	if every := cmp(opts.ScheduleInterval, DefaultScheduleInterval); every > 0 && opts.Source == nil {
		go s.schedule(bg, every)
	}
	return s, nil
}

// follow sets s.source: opts.Source, or a source over the store.
func (s *Server) follow(ctx context.Context, st Store, opts *Options) error {
	if opts.Source != nil {
		s.source = opts.Source
		return nil
	}
	sso := opts.StoreSource
	sso.Environment = opts.Environment
	if sso.Logger == nil {
		sso.Logger = s.log
	}
	src, err := flagon.NewStoreSource(ctx, st, &sso)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.source = src
	s.closeFn = append(s.closeFn, src.Close)
	return nil
}

// demoAllowed refuses the demo in production and on PostgreSQL, a store
// that is shared, so most likely a real one.
func demoAllowed(st Store, opts *Options) error {
	env := strings.ToLower(opts.Environment)
	switch {
	case opts.Production || env == "production" || env == "prod":
		return ErrDemoInProduction
	case isPostgres(st):
		return fmt.Errorf("%w; and not on PostgreSQL, which is shared (run the demo on the embedded store)", ErrDemoInProduction)
	}
	return nil
}

func isPostgres(st Store) bool {
	_, ok := st.(*postgres.Store)
	return ok
}

// parsePublicURL checks a public URL: absolute http or https, with a
// host.
func parsePublicURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%q: want an absolute http or https URL, such as https://flags.example.com", s)
	}
	return u, nil
}

// oidcOptions completes o: its redirect URL defaults to the console's
// callback under the public URL, which is then required.
func oidcOptions(o *admin.OIDCOptions, publicURL *url.URL) (*admin.OIDCOptions, error) {
	if o == nil {
		return nil, nil
	}
	c := *o
	if c.RedirectURL == "" {
		if publicURL == nil {
			return nil, errors.New("set the public URL (or the redirect URL): the identity provider sends browsers back to it")
		}
		c.RedirectURL = strings.TrimSuffix(publicURL.String(), "/") + "/admin/" + admin.OIDCCallbackPath
	}
	return &c, nil
}

// readOnlyNote says where flags come from in config-file mode.
func readOnlyNote(from string) string {
	if from == "" {
		from = "the config file"
	}
	return "flags come from " + from + ", the source of truth: change them there (it reloads on save); overrides and the audit log still work here"
}

// cmp returns v, or def when v is zero.
func cmp[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// seedDemo writes the demo definitions into st if it has no flags yet.
func seedDemo(ctx context.Context, st Store) error {
	flags, err := st.Flags(ctx)
	if err != nil {
		return err
	}
	if len(flags) > 0 {
		return nil
	}
	_, err = Import(ctx, st, demo.Definitions(), flagon.Change{Actor: "flagon", Reason: "demo flags for a new store"})
	return err
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// GeneratedPassword returns the admin password New generated because
// Options named none, or "".
func (s *Server) GeneratedPassword() string { return s.generatedPassword }

// Client returns the client that evaluates the flags.
func (s *Server) Client() *flagon.Client { return s.client }

// Source returns the source the client follows: the store's, or
// Options.Source.
func (s *Server) Source() flagon.StatusSource { return s.source }

// Close stops following the store and pruning the audit log. It closes
// neither the store nor Options.Source.
func (s *Server) Close() error {
	s.cancel()
	<-s.usageDone // the last of the server's own usage is in the store
	s.client.Close()
	var errs []error
	for _, fn := range s.closeFn {
		errs = append(errs, fn())
	}
	return errors.Join(errs...)
}
