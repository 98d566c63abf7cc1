// Package server assembles `flagon serve`: a store-backed client, the
// admin UI, the REST API, the OFREP endpoints, the snapshot endpoint that
// remote sources follow, /healthz, /metrics and a demo page. cmd/flagon
// reads the settings and calls it; tests run it in process with httptest.
//
// To start:
//
//	st, _ := server.OpenStore(ctx, "sqlite://flagon.db")
//	srv, _ := server.New(ctx, st, &server.Options{APITokens: tokens})
//	defer srv.Close()
//	http.ListenAndServe("127.0.0.1:8080", srv.Handler())
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/admin"
	"github.com/flagon/flagon/flagonhttp"
	"github.com/flagon/flagon/ofrep"
	"github.com/flagon/flagon/remote"
)

// Options configures a Server. The zero value serves a closed REST API (no
// tokens), open OFREP endpoints, and no demo.
type Options struct {
	// Environment selects each flag's per-environment settings.
	Environment string
	// Production marks the environment as production: the admin UI asks
	// for a confirmation and a reason before changes, and responses carry
	// no override-count header.
	Production bool
	// APITokens grant access to the REST API; none closes it.
	APITokens []APIToken
	// OFREPKeys are the API keys OFREP clients present; none leaves the
	// OFREP endpoints open.
	OFREPKeys []string
	// Demo mounts the demo page at / and, if the store is empty, seeds it
	// with DemoDefinitions.
	Demo bool
	// Logger receives the server's logs; nil means slog.Default().
	Logger *slog.Logger
	// AdminPassword is the admin UI's sign-in password; empty generates
	// one (see Server.GeneratedPassword).
	AdminPassword string
	// CookieKeys are the override cookie's signing keys, "id:secret,…";
	// empty generates a key per process.
	CookieKeys string
	// StoreSource tunes how the server follows its store.
	StoreSource flagon.StoreSourceOptions
}

// A Server is a running `flagon serve`: a client following a store, and
// the HTTP handler over both.
type Server struct {
	store   Store
	source  *flagon.StoreSource
	client  *flagon.Client
	metrics *metrics
	handler http.Handler
	log     *slog.Logger

	generatedPassword string
	httpOpts          *flagonhttp.Options
}

// cookieKeys parses the override cookie's keys, or generates one for this
// process (and says so) when none are given.
func cookieKeys(s string, log *slog.Logger) (*flagonhttp.Keys, error) {
	if s != "" {
		k, err := flagonhttp.ParseKeys(s)
		if err != nil {
			return nil, fmt.Errorf("server: cookie keys: %w", err)
		}
		return k, nil
	}
	k, err := flagonhttp.GenerateKey("k1")
	if err != nil {
		return nil, err
	}
	log.Warn("flagon: no override-cookie keys configured (FLAGON_COOKIE_KEYS); generated one for this run, so override cookies and share links end with it")
	return flagonhttp.NewKeys(k)
}

// New starts following st and builds the handler. It seeds an empty store
// with the demo flags when opts.Demo is set.
func New(ctx context.Context, st Store, opts *Options) (*Server, error) {
	if opts == nil {
		opts = &Options{}
	}
	s := &Server{store: st, metrics: newMetrics(), log: opts.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	if opts.Demo {
		if err := seedDemo(ctx, st); err != nil {
			return nil, fmt.Errorf("server: seed demo flags: %w", err)
		}
	}
	sso := opts.StoreSource
	sso.Environment = opts.Environment
	if sso.Logger == nil {
		sso.Logger = s.log
	}
	src, err := flagon.NewStoreSource(ctx, st, &sso)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.source = src
	s.client = flagon.NewClient(src, &flagon.Options{Logger: s.log, OnEvaluate: s.metrics.observe})
	src.Subscribe(func(*flagon.Snapshot) { s.metrics.reloads.Add(1) })

	keys, err := cookieKeys(opts.CookieKeys, s.log)
	if err != nil {
		return nil, err
	}
	s.httpOpts = &flagonhttp.Options{
		Keys:         keys,
		Context:      demoContext,
		Production:   opts.Production,
		ManageURL:    "/admin/overrides",
		Logger:       s.log,
		TokenRevoked: flagonhttp.TokenRevokedIn(st),
	}

	password := opts.AdminPassword
	if password == "" {
		password = admin.GeneratePassword()
		s.generatedPassword = password
	}
	auth, err := admin.NewPasswordAuth(password, &admin.PasswordOptions{CookiePath: "/"})
	if err != nil {
		return nil, fmt.Errorf("server: admin password: %w", err)
	}
	// Signed-in console users may override staff flags, and their stored
	// per-login overrides follow them to the demo pages.
	s.httpOpts.UserOverrides = admin.UserOverrides(st, auth.Authorize)
	s.httpOpts.CanOverride = func(r *http.Request, f flagon.Flag) bool {
		if p, err := auth.Authorize(r); err == nil && p.Role > admin.RoleNone {
			return true
		}
		return findDemoUser(cookie(r, demoUserCookie)).Staff
	}
	// Overrides set in a browser by the override link change no stored
	// record, so the store's writes do not audit them: append their
	// entries here. (The console audits the ones it sets itself.)
	s.httpOpts.OnOverride = s.auditOverride(auth.Authorize, opts.Environment)

	mux := http.NewServeMux()
	console := admin.Handler(&admin.Options{
		Client:        s.client,
		Store:         st,
		Audit:         st,
		UserOverrides: st,
		ShareTokens:   st,
		Authorize:     auth.Authorize,
		SignIn:        auth,
		Overrides:     s.httpOpts,
		Environment:   opts.Environment,
		Production:    opts.Production,
		Logger:        s.log,
	})
	mux.Handle("/admin/", http.StripPrefix("/admin", console))
	mux.Handle("GET /admin", http.RedirectHandler("/admin/", http.StatusMovedPermanently))
	(&api{store: st, tokens: opts.APITokens, log: s.log, env: opts.Environment}).register(mux)
	// OFREP requests carry their own context in the body; the middleware
	// adds the overrides of a signed Flagon-Overrides header or override
	// cookie, which the OFREP handler applies.
	ofrepOpts := *s.httpOpts
	ofrepOpts.Context = nil
	mux.Handle("/ofrep/", flagonhttp.Middleware(s.client, &ofrepOpts)(
		ofrep.Handler(s.client, &ofrep.Options{APIKeys: opts.OFREPKeys, Logger: s.log})))
	mux.Handle("/api/v1/snapshot", remote.Handler(src))
	mux.Handle("/api/v1/snapshot/", remote.Handler(src))
	mux.Handle("GET /healthz", health(s.client))
	mux.Handle("GET /metrics", s.metrics.handler(s.client))
	if opts.Demo {
		site := http.NewServeMux()
		site.Handle("GET /{$}", newDemoPage(s.client))
		site.Handle("POST /demo/as", http.NewCrossOriginProtection().Handler(http.HandlerFunc(demoAs)))
		flagonhttp.Mount(site, s.client, s.httpOpts)
		mux.Handle("/", withVisitor(flagonhttp.Middleware(s.client, s.httpOpts)(site)))
	}
	s.handler = mux
	return s, nil
}

// auditTimeout bounds the append of an override link's audit entry.
const auditTimeout = 5 * time.Second

// auditOverride returns the override link's OnOverride: it appends an
// audit entry for each override set in or removed from a browser's
// cookie. The actor is the signed-in console user, else the browser's
// demo visitor ID. A failure is logged; the cookie is set already.
func (s *Server) auditOverride(authorize func(*http.Request) (admin.Principal, error), env string) func(*http.Request, flagonhttp.OverrideEvent) {
	return func(r *http.Request, ev flagonhttp.OverrideEvent) {
		actor := "browser"
		if p, err := authorize(r); err == nil && p.Name != "" {
			actor = p.Name
		} else if v := cookie(r, demoVisitorCookie); v != "" {
			actor = "browser " + v
		}
		e := flagon.AuditEntry{
			Actor: actor, Action: admin.ActionBrowserOverrideSet, Target: ev.Flag,
			Environment: env, Reason: "via " + ev.Via,
		}
		if ev.TokenID != "" {
			e.Reason += ", share token " + ev.TokenID
		}
		if ev.After == nil {
			e.Action = admin.ActionBrowserOverrideRemove
		} else if !ev.ExpiresAt.IsZero() {
			e.Reason += ", until " + ev.ExpiresAt.UTC().Format(time.RFC3339)
		}
		var err error
		if e.Before, err = valueJSON(ev.Before); err == nil {
			e.After, err = valueJSON(ev.After)
		}
		if err == nil {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), auditTimeout)
			defer cancel()
			err = s.store.AppendAudit(ctx, e)
		}
		if err != nil {
			s.log.Error("flagon: audit an override link", "flag", ev.Flag, "actor", actor, "action", e.Action, "err", err)
		}
	}
}

// valueJSON returns the JSON of an override's value, or nil for nil.
func valueJSON(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode value: %w", err)
	}
	return b, nil
}

// seedDemo writes the demo definitions into st if it has no flags yet.
func seedDemo(ctx context.Context, st flagon.Store) error {
	flags, err := st.Flags(ctx)
	if err != nil {
		return err
	}
	if len(flags) > 0 {
		return nil
	}
	_, err = Import(ctx, st, DemoDefinitions(), flagon.Change{Actor: "flagon", Reason: "demo flags for a new store"})
	return err
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// GeneratedPassword returns the admin password New generated because
// Options named none, or "".
func (s *Server) GeneratedPassword() string { return s.generatedPassword }

// Client returns the client that evaluates the store's flags.
func (s *Server) Client() *flagon.Client { return s.client }

// Source returns the store source the client follows.
func (s *Server) Source() *flagon.StoreSource { return s.source }

// Close stops following the store. It does not close the store.
func (s *Server) Close() error {
	s.client.Close()
	return errors.Join(s.source.Close())
}
