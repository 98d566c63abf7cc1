package admin

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/flagon/flagon"
)

// Defaults of OIDCOptions.
const (
	DefaultOIDCGroupsClaim = "groups"
	// OIDCCallbackPath is where the identity provider sends browsers
	// back, under the console's path: register the console's URL plus
	// this (such as https://flags.example.com/admin/signin/oidc/callback)
	// as the client's redirect URI.
	OIDCCallbackPath = "signin/oidc/callback"
	// oidcFlowTTL bounds how long a sign-in at the provider may take.
	oidcFlowTTL = 10 * time.Minute
)

// DefaultOIDCScopes are the scopes asked for when OIDCOptions.Scopes is
// empty.
var DefaultOIDCScopes = []string{oidc.ScopeOpenID, "email", "profile"}

// flowPurpose is what the cookie of a sign-in in progress is sealed for.
const flowPurpose = "flagon-admin-oidc-flow"

// oidcSource marks sessions started by OpenID Connect.
const oidcSource = "oidc"

// OIDCOptions configures OpenID Connect sign-in (PasswordOptions.OIDC):
// the authorization code flow with PKCE (S256), a single-use state and a
// nonce, and an ID token whose issuer, audience, signature and expiry are
// checked. People signed in this way are named by their verified e-mail
// address (else preferred_username, else the subject) and get the roles
// Roles gives them; they are not users of the store (docs/decisions/0172).
type OIDCOptions struct {
	// Issuer is the provider's issuer URL; its discovery document is read
	// at the first sign-in.
	Issuer string
	// ClientID and ClientSecret are the console's client at the provider.
	ClientID     string
	ClientSecret string
	// RedirectURL is the console's URL plus OIDCCallbackPath, as
	// registered at the provider.
	RedirectURL string
	// Scopes are asked for; empty means DefaultOIDCScopes. Add "groups"
	// for providers that give the groups claim only when asked.
	Scopes []string
	// GroupsClaim names the ID token claim that lists the groups; empty
	// means DefaultOIDCGroupsClaim.
	GroupsClaim string
	// Roles maps groups and e-mail domains to roles. Someone it gives no
	// role is refused.
	Roles *RoleMap
	// HTTPClient talks to the provider; nil means http.DefaultClient.
	HTTPClient *http.Client
}

// oidcFlow is the OpenID Connect side of a PasswordAuth.
type oidcFlow struct {
	opts OIDCOptions
	// cookiePath is where the flow cookie goes: the callback's folder,
	// which may be another console's when one server has several
	// environments (their consoles share the one redirect URL).
	cookiePath string

	mu       sync.Mutex
	provider *oidc.Provider
	used     map[string]time.Time // consumed states, until their flow expires
}

// flowState is the sealed cookie of a sign-in in progress.
type flowState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	// Next is the page to return to, as a path from the site's root:
	// the console that started the flow, plus the next it was given.
	Next    string `json:"x,omitempty"`
	Expires int64  `json:"e"`
}

func newOIDCFlow(o *OIDCOptions) (*oidcFlow, error) {
	if o.Issuer == "" || o.ClientID == "" || o.RedirectURL == "" {
		return nil, errors.New("admin: OIDC sign-in needs an issuer, a client ID and a redirect URL")
	}
	u, err := url.Parse(o.RedirectURL)
	if err != nil || !u.IsAbs() || !strings.HasSuffix(u.Path, "/"+OIDCCallbackPath) {
		return nil, fmt.Errorf("admin: OIDC redirect URL %q: want the console's absolute URL plus %s", o.RedirectURL, OIDCCallbackPath)
	}
	f := &oidcFlow{opts: *o, cookiePath: path.Dir(u.Path), used: make(map[string]time.Time)}
	if len(f.opts.Scopes) == 0 {
		f.opts.Scopes = DefaultOIDCScopes
	}
	if f.opts.GroupsClaim == "" {
		f.opts.GroupsClaim = DefaultOIDCGroupsClaim
	}
	return f, nil
}

// ctx carries the HTTP client that go-oidc and oauth2 use.
func (f *oidcFlow) ctx(ctx context.Context) context.Context {
	if f.opts.HTTPClient == nil {
		return ctx
	}
	return oidc.ClientContext(ctx, f.opts.HTTPClient)
}

// discover returns the provider, reading its discovery document the first
// time (and again after a failure).
func (f *oidcFlow) discover(ctx context.Context) (*oidc.Provider, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.provider != nil {
		return f.provider, nil
	}
	// Keys are fetched later with this context's client: keep it alive
	// beyond the request.
	p, err := oidc.NewProvider(f.ctx(context.WithoutCancel(ctx)), f.opts.Issuer)
	if err != nil {
		return nil, fmt.Errorf("admin: OIDC discovery at %s: %w", f.opts.Issuer, err)
	}
	f.provider = p
	return p, nil
}

func (f *oidcFlow) config(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     f.opts.ClientID,
		ClientSecret: f.opts.ClientSecret,
		RedirectURL:  f.opts.RedirectURL,
		Endpoint:     p.Endpoint(),
		Scopes:       f.opts.Scopes,
	}
}

// consume marks state used, and reports whether it was unused. Used states
// are kept until their flow would have expired anyway. Only sign-ins the
// provider vouched for are marked, so the set grows with real sign-ins,
// never with what an anonymous visitor sends.
func (f *oidcFlow) consume(state string, expires, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s, exp := range f.used {
		if now.After(exp) {
			delete(f.used, s)
		}
	}
	if _, ok := f.used[state]; ok {
		return false
	}
	f.used[state] = expires
	return true
}

// spent reports whether state was used by a completed sign-in.
func (f *oidcFlow) spent(state string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.used[state]
	return ok
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// startOIDC sends the browser to the provider (GET signin/oidc).
func (a *PasswordAuth) startOIDC(w http.ResponseWriter, r *http.Request, c *Console, q *request) {
	p, err := a.oidc.discover(r.Context())
	if err != nil {
		c.log.Error("admin: OIDC sign-in", "err", err)
		c.renderError(w, r, http.StatusBadGateway, "Single sign-on is unavailable", "The identity provider could not be reached. Try again in a moment.")
		return
	}
	now := a.now()
	fs := flowState{State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(), Expires: now.Add(oidcFlowTTL).Unix()}
	fs.Next = q.base
	if next := r.URL.Query().Get("next"); localPath(next) {
		fs.Next += next
	}
	b, _ := json.Marshal(fs)
	http.SetCookie(w, &http.Cookie{
		Name: a.cookie + "_oidc", Value: a.keys.Seal(flowPurpose, b), Path: a.oidc.cookiePath,
		MaxAge: int(oidcFlowTTL.Seconds()), HttpOnly: true, Secure: a.secure.For(r), SameSite: http.SameSiteLaxMode,
	})
	u := a.oidc.config(p).AuthCodeURL(fs.State, oauth2.S256ChallengeOption(fs.Verifier), oidc.Nonce(fs.Nonce))
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// oidcRefusal is a failed callback: what the page says, and what the log
// records.
type oidcRefusal struct {
	status int
	msg    string
	err    error
}

func (e *oidcRefusal) Error() string { return e.err.Error() }

func refused(status int, msg string, err error) error {
	return &oidcRefusal{status: status, msg: msg, err: err}
}

// finishOIDC completes a sign-in (GET signin/oidc/callback): it checks the
// state against the flow cookie and that it was not used before, redeems
// the code with the PKCE verifier, verifies the ID token and its nonce,
// and maps the identity to roles.
func (a *PasswordAuth) finishOIDC(w http.ResponseWriter, r *http.Request, c *Console, q *request) {
	http.SetCookie(w, &http.Cookie{Name: a.cookie + "_oidc", Path: a.oidc.cookiePath, MaxAge: -1, HttpOnly: true, Secure: a.secure.For(r), SameSite: http.SameSiteLaxMode})
	fs, id, err := a.redeem(r)
	var role Role
	var envs map[string]Role
	if err == nil {
		err = a.admit(r.Context(), id)
		role, envs, _ = a.oidc.opts.Roles.Roles(id)
	}
	if err != nil {
		var rf *oidcRefusal
		if !errors.As(err, &rf) {
			rf = &oidcRefusal{status: http.StatusBadGateway, msg: "Single sign-on failed. Try again.", err: err}
		}
		c.log.Warn("admin: OIDC sign-in refused", "err", rf.err, "addr", a.clientIP(r))
		c.renderError(w, r, rf.status, "Sign-in refused", rf.msg)
		return
	}
	s := session{Name: id.Name, Src: oidcSource, Role: role.String()}
	for env, r := range envs {
		if s.Envs == nil {
			s.Envs = make(map[string]string)
		}
		s.Envs[env] = r.String()
	}
	a.startSession(w, r, q, s, a.now())
	c.log.Info("admin: signed in", "name", s.Name, "via", oidcSource, "role", s.Role, "env_roles", s.Envs, "addr", a.clientIP(r))
	next := fs.Next
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		next = q.base
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// redeem checks the callback's state and exchanges its code for a
// verified identity.
func (a *PasswordAuth) redeem(r *http.Request) (*flowState, *Identity, error) {
	qv := r.URL.Query()
	ck, err := r.Cookie(a.cookie + "_oidc")
	if err != nil {
		return nil, nil, refused(http.StatusBadRequest, "This sign-in was not started here, or took too long. Sign in again.", errors.New("no flow cookie"))
	}
	b, err := a.keys.Open(flowPurpose, ck.Value, 2048)
	var fs flowState
	if err != nil || json.Unmarshal(b, &fs) != nil || fs.State == "" {
		return nil, nil, refused(http.StatusBadRequest, "This sign-in was not started here, or took too long. Sign in again.", errors.New("bad flow cookie"))
	}
	now := a.now()
	if subtle.ConstantTimeCompare([]byte(qv.Get("state")), []byte(fs.State)) != 1 || now.Unix() >= fs.Expires {
		return nil, nil, refused(http.StatusBadRequest, "The sign-in's state does not match, or it took too long. Sign in again.", errors.New("state mismatch or expired"))
	}
	replayed := refused(http.StatusBadRequest, "This sign-in was already used. Sign in again.", errors.New("replayed state"))
	if a.oidc.spent(fs.State) {
		return nil, nil, replayed
	}
	if e := qv.Get("error"); e != "" {
		return nil, nil, refused(http.StatusUnauthorized, "The identity provider did not sign you in: "+e+" "+qv.Get("error_description"), fmt.Errorf("provider error %q", e))
	}
	p, err := a.oidc.discover(r.Context())
	if err != nil {
		return nil, nil, err
	}
	ctx := a.oidc.ctx(r.Context())
	tok, err := a.oidc.config(p).Exchange(ctx, qv.Get("code"), oauth2.VerifierOption(fs.Verifier))
	if err != nil {
		return nil, nil, refused(http.StatusUnauthorized, "The identity provider did not accept the sign-in. Sign in again.", fmt.Errorf("code exchange: %w", err))
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: a.oidc.opts.ClientID, Now: a.now}).Verify(ctx, raw)
	if err != nil {
		return nil, nil, refused(http.StatusUnauthorized, "The identity provider's answer could not be verified. Sign in again; if this goes on, tell an administrator.", fmt.Errorf("ID token: %w", err))
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(fs.Nonce)) != 1 {
		return nil, nil, refused(http.StatusUnauthorized, "The identity provider's answer was not for this sign-in. Sign in again.", errors.New("ID token nonce mismatch"))
	}
	if !a.oidc.consume(fs.State, time.Unix(fs.Expires, 0), now) {
		return nil, nil, replayed // two callbacks of one sign-in at once
	}
	id, err := a.oidc.identity(idt)
	if err != nil {
		return nil, nil, refused(http.StatusUnauthorized, "The identity provider's answer could not be read.", err)
	}
	return &fs, id, nil
}

// identity reads the claims of a verified ID token.
func (f *oidcFlow) identity(idt *oidc.IDToken) (*Identity, error) {
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, fmt.Errorf("ID token claims: %w", err)
	}
	str := func(k string) string { s, _ := claims[k].(string); return s }
	id := &Identity{Email: str("email")}
	// Some providers write email_verified as a string.
	switch v := claims["email_verified"].(type) {
	case bool:
		id.EmailVerified = v
	case string:
		id.EmailVerified = v == "true"
	}
	switch g := claims[f.opts.GroupsClaim].(type) {
	case []any:
		for _, v := range g {
			if s, ok := v.(string); ok {
				id.Groups = append(id.Groups, s)
			}
		}
	case string:
		id.Groups = strings.Fields(g)
	}
	switch {
	case id.Email != "" && id.EmailVerified:
		id.Name = id.Email
	case str("preferred_username") != "":
		id.Name = str("preferred_username")
	default:
		id.Name = idt.Subject
	}
	if len(id.Name) > 200 {
		return nil, fmt.Errorf("name %.40q… is too long", id.Name)
	}
	return id, nil
}

// admit refuses an identity that the role map gives no role, or whose name
// is that of a user of the store (who signs in with their password).
func (a *PasswordAuth) admit(ctx context.Context, id *Identity) error {
	if _, _, ok := a.oidc.opts.Roles.Roles(id); !ok {
		return refused(http.StatusForbidden,
			fmt.Sprintf("The identity provider signed you in as %s, but no role in Flagon is given to your groups or e-mail domain. Ask an administrator for access.", id.Name),
			fmt.Errorf("no role mapped to %q (groups %q, email %q)", id.Name, id.Groups, id.Email))
	}
	return a.checkExternalName(ctx, id.Name)
}

// checkExternalName refuses a single sign-on name that is also the name of
// a user of the store, so that the audit log never mixes the two.
func (a *PasswordAuth) checkExternalName(ctx context.Context, name string) error {
	if a.users == nil {
		return nil
	}
	_, err := a.users.User(ctx, name)
	if err == nil {
		return refused(http.StatusForbidden,
			fmt.Sprintf("%s is the name of a Flagon user, who signs in with a password here. Ask an administrator to rename or remove that user.", name),
			fmt.Errorf("single sign-on name %q is a user of the store", name))
	}
	if errors.Is(err, flagon.ErrNotFound) {
		return nil
	}
	return fmt.Errorf("admin: read user: %w", err)
}
