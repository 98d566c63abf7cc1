package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
	"golang.org/x/crypto/bcrypt"
)

// Defaults of PasswordOptions.
const (
	DefaultSessionTTL        = 12 * time.Hour
	DefaultSessionCookieName = "flagon_admin_session"
	// MinPasswordLen is the shortest password NewPasswordAuth accepts.
	MinPasswordLen = 8
)

// sessionPurpose is what session cookies are sealed for.
const sessionPurpose = "flagon-admin-session"

// passwordAccount is the account that failures of the shared password
// count against: whoever guesses, the password is what is guessed.
const passwordAccount = "shared password"

// PasswordOptions configures a PasswordAuth. The zero value is valid.
type PasswordOptions struct {
	// Keys sign session cookies (flagon serve gives the ring it keeps in
	// its store, so sessions survive restarts and move between
	// instances). Nil means the per-process key: sessions end when the
	// process does and are not shared between instances.
	Keys *flagonhttp.Keys
	// Secure says when the session cookie is marked Secure; the zero
	// value marks it so on TLS requests. Behind a proxy that terminates
	// TLS, use flagonhttp.SecureAlways.
	Secure flagonhttp.SecureMode
	// ClientIP returns the address a request came from, for throttling
	// and logs; nil means the host of r.RemoteAddr. Behind a proxy, give
	// one that believes X-Forwarded-For from the proxy only.
	ClientIP func(r *http.Request) string
	// SessionTTL is how long a sign-in lasts; zero means
	// DefaultSessionTTL.
	SessionTTL time.Duration
	// CookieName names the session cookie; empty means
	// DefaultSessionCookieName.
	CookieName string
	// CookiePath is the session cookie's path; empty means the console's
	// path. Set "/" when the application's pages identify the signed-in
	// user with Authorize too (see UserOverrides).
	CookiePath string

	// Users, if set, makes the sign-in one by user name and password,
	// checked against the users' bcrypt hashes; each session names its
	// user, whose role in Environment (flagon.User.RoleIn) it has, read
	// from Users on every request, so that a disabled, removed or demoted
	// user loses access at once. The shared password then only bootstraps
	// a store that has no users yet: it signs in as the admin "admin"
	// (Principal.Bootstrap), and once any user exists it no longer signs
	// in and its sessions end (docs/decisions/0170). Nil keeps the one
	// shared password for everyone.
	Users flagon.UserStore
	// Environment is the environment whose role a user's session has.
	Environment string

	// OIDC, if set, adds "Sign in with single sign-on" to the sign-in
	// page: OpenID Connect sign-in whose sessions carry the roles
	// OIDCOptions.Roles gives (docs/decisions/0172).
	OIDC *OIDCOptions
}

// BootstrapName is the name of the bootstrap admin, who signs in with the
// shared password while the user store has no users.
const BootstrapName = "admin"

// PasswordAuth is the sign-in of `flagon serve`: a sign-in page, a signed
// HttpOnly session cookie and sign-out. With PasswordOptions.Users, people
// sign in as users of the store, each with their role, and the shared
// password only bootstraps a store with no users. Without it, whoever
// knows the one shared password is an admin, and the name they type (or
// "admin") is what the audit log records and what per-login overrides are
// kept under.
//
// Use its Authorize method as Options.Authorize and itself as
// Options.SignIn; the console serves it at "signin" and "signout".
type PasswordAuth struct {
	hash      [32]byte
	keys      *flagonhttp.Keys
	ttl       time.Duration
	cookie    string
	path      string
	secure    flagonhttp.SecureMode
	clientIP  func(*http.Request) string
	now       func() time.Time
	throttle  *throttle
	users     flagon.UserStore
	env       string
	signedOut *signedOut // shared by the ForEnvironment copies
	oidc      *oidcFlow  // nil without OIDC sign-in
}

// signedOut holds the IDs of signed-out sessions, until they expire.
type signedOut struct {
	mu  sync.Mutex
	ids map[string]time.Time
}

// NewPasswordAuth returns a sign-in that accepts password, which must be
// at least MinPasswordLen characters. A nil opts is the zero options.
func NewPasswordAuth(password string, opts *PasswordOptions) (*PasswordAuth, error) {
	if opts == nil {
		opts = &PasswordOptions{}
	}
	if len(password) < MinPasswordLen {
		return nil, errors.New("admin: password auth: the password must be at least 8 characters")
	}
	a := &PasswordAuth{
		hash:      sha256.Sum256([]byte(password)),
		keys:      opts.Keys,
		ttl:       opts.SessionTTL,
		cookie:    opts.CookieName,
		path:      opts.CookiePath,
		secure:    opts.Secure,
		clientIP:  opts.ClientIP,
		now:       time.Now,
		throttle:  newThrottle(),
		users:     opts.Users,
		env:       opts.Environment,
		signedOut: &signedOut{ids: make(map[string]time.Time)},
	}
	if a.clientIP == nil {
		a.clientIP = remoteHost
	}
	if opts.OIDC != nil {
		f, err := newOIDCFlow(opts.OIDC)
		if err != nil {
			return nil, err
		}
		a.oidc = f
	}
	if a.ttl <= 0 {
		a.ttl = DefaultSessionTTL
	}
	if a.cookie == "" {
		a.cookie = DefaultSessionCookieName
	}
	return a, nil
}

// GeneratePassword returns a random password of 20 characters, for a
// server that was given none and prints the one it made.
func GeneratePassword() string {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// session is the payload of the session cookie.
type session struct {
	Name    string `json:"n"`
	ID      string `json:"i"`
	Expires int64  `json:"e"`
	// Boot marks the bootstrap admin's session (with Users).
	Boot bool `json:"b,omitempty"`
	// Pass is a fingerprint of the user's password hash (with Users): a
	// new password ends the sessions of the old.
	Pass string `json:"p,omitempty"`
	// Src marks a single sign-on session ("oidc"), which carries its
	// roles: Role everywhere but in the environments Envs names.
	Src  string            `json:"s,omitempty"`
	Role string            `json:"r,omitempty"`
	Envs map[string]string `json:"v,omitempty"`
}

// Authorize returns the principal of a request with a valid session
// cookie, or ErrUnauthenticated. Without PasswordOptions.Users that is an
// admin; with it, the session's user with their role in the environment
// (RoleNone if they have none there), or the bootstrap admin while the
// store has no users.
func (a *PasswordAuth) Authorize(r *http.Request) (Principal, error) {
	ck, err := r.Cookie(a.cookie)
	if err != nil {
		return Principal{}, ErrUnauthenticated
	}
	s, ok := a.open(ck.Value)
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	if s.Src != "" {
		return a.external(r.Context(), s)
	}
	if a.users == nil {
		return Principal{Name: s.Name, Role: RoleAdmin}, nil
	}
	ctx := r.Context()
	if s.Boot {
		all, err := a.users.Users(ctx)
		if err != nil {
			return Principal{}, fmt.Errorf("admin: read users: %w", err)
		}
		if len(all) > 0 {
			return Principal{}, ErrUnauthenticated
		}
		return Principal{Name: BootstrapName, Role: RoleAdmin, Bootstrap: true}, nil
	}
	u, err := a.users.User(ctx, s.Name)
	if errors.Is(err, flagon.ErrNotFound) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("admin: read user: %w", err)
	}
	if u.Disabled || passPrint(u.PasswordHash) != s.Pass {
		return Principal{}, ErrUnauthenticated
	}
	role, _ := ParseRole(u.RoleIn(a.env))
	return Principal{Name: u.Name, Role: role}, nil
}

// external returns the principal of a single sign-on session: its role in
// the environment, unless a user of the store has taken its name since.
func (a *PasswordAuth) external(ctx context.Context, s session) (Principal, error) {
	if err := a.checkExternalName(ctx, s.Name); err != nil {
		if _, ok := err.(*oidcRefusal); ok {
			return Principal{}, ErrUnauthenticated
		}
		return Principal{}, err
	}
	name := s.Role
	if r, ok := s.Envs[a.env]; ok {
		name = r
	}
	role, _ := ParseRole(name)
	return Principal{Name: s.Name, Role: role}, nil
}

// passPrint returns a short fingerprint of a password hash, for sessions.
func passPrint(hash string) string {
	sum := sha256.Sum256([]byte(hash))
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

func (a *PasswordAuth) seal(s session) string {
	b, _ := json.Marshal(s)
	return a.keys.Seal(sessionPurpose, b)
}

// open verifies a session cookie value.
func (a *PasswordAuth) open(v string) (session, bool) {
	b, err := a.keys.Open(sessionPurpose, v, 1024)
	if err != nil {
		return session{}, false
	}
	var s session
	if json.Unmarshal(b, &s) != nil || s.Name == "" || s.ID == "" {
		return session{}, false
	}
	now := a.now()
	if now.Unix() >= s.Expires {
		return session{}, false
	}
	a.signedOut.mu.Lock()
	_, revoked := a.signedOut.ids[s.ID]
	a.signedOut.mu.Unlock()
	return s, !revoked
}

// signInData is what the sign-in page shows.
type signInData struct {
	Name  string
	Next  string
	Error string
	// Users: sign in by user name (PasswordOptions.Users); Bootstrap:
	// the store has no users yet, so the shared password signs in.
	Users, Bootstrap bool
	// OIDC: single sign-on is offered.
	OIDC bool
}

// ServeHTTP serves the sign-in page (GET and POST "signin"), sign-out
// (POST "signout") and, with PasswordOptions.OIDC, single sign-on (GET
// "signin/oidc", which goes to the provider, and GET OIDCCallbackPath,
// where it comes back). It must be served through the console
// (Options.SignIn), which checks the form token and supplies the page
// layout.
func (a *PasswordAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := requestFrom(r.Context())
	c := consoleFrom(r.Context())
	if q == nil || c == nil {
		http.Error(w, "admin: serve PasswordAuth through admin.Options.SignIn", http.StatusNotFound)
		return
	}
	switch {
	case r.URL.Path == "/signout" && r.Method == http.MethodPost:
		if ck, err := r.Cookie(a.cookie); err == nil {
			if s, ok := a.open(ck.Value); ok {
				a.signedOut.mu.Lock()
				a.signedOut.ids[s.ID] = time.Unix(s.Expires, 0)
				a.prune()
				a.signedOut.mu.Unlock()
			}
		}
		http.SetCookie(w, &http.Cookie{Name: a.cookie, Path: a.cookiePath(q), MaxAge: -1, HttpOnly: true, Secure: a.secure.For(r), SameSite: http.SameSiteLaxMode})
		http.Redirect(w, r, q.base+"signin?done=signed-out", http.StatusSeeOther)
	case r.URL.Path == "/signin" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		next := r.URL.Query().Get("next")
		if !localPath(next) {
			next = ""
		}
		d := &signInData{Next: next, Users: a.users != nil, OIDC: a.oidc != nil}
		if a.users != nil {
			all, err := a.users.Users(r.Context())
			if err != nil {
				c.serverError(w, r, "read the users", err)
				return
			}
			d.Bootstrap = len(all) == 0
		}
		c.render(w, http.StatusOK, "signin", c.newPage(r, "Sign in", "", d))
	case r.URL.Path == "/signin" && r.Method == http.MethodPost:
		a.signIn(w, r, c, q)
	case a.oidc != nil && r.URL.Path == "/signin/oidc" && r.Method == http.MethodGet:
		a.startOIDC(w, r, c, q)
	case a.oidc != nil && "/"+OIDCCallbackPath == r.URL.Path && r.Method == http.MethodGet:
		a.finishOIDC(w, r, c, q)
	default:
		w.Header().Set("Allow", "GET, POST")
		c.renderError(w, r, http.StatusMethodNotAllowed, "Method not allowed", "Use the sign-in form.")
	}
}

func (a *PasswordAuth) signIn(w http.ResponseWriter, r *http.Request, c *Console, q *request) {
	d := &signInData{Name: strings.TrimSpace(r.PostForm.Get("name")), Next: r.PostForm.Get("next"), Users: a.users != nil, OIDC: a.oidc != nil}
	if !localPath(d.Next) {
		d.Next = ""
	}
	if a.users != nil {
		a.signInUser(w, r, c, q, d)
		return
	}
	addr := a.clientIP(r)
	now := a.now()
	if a.lockedOut(w, r, c, d, passwordAccount, addr, now) {
		return
	}
	given := sha256.Sum256([]byte(r.PostForm.Get("password")))
	if subtle.ConstantTimeCompare(given[:], a.hash[:]) != 1 {
		a.throttle.fail(passwordAccount, addr, now)
		c.log.Warn("admin: failed sign-in", "addr", addr)
		d.Error = "That password is not right."
		c.render(w, http.StatusUnauthorized, "signin", c.newPage(r, "Sign in", "", d))
		return
	}
	name, ok := cleanName(d.Name)
	if !ok {
		d.Error = "A name may have up to 64 letters, digits, spaces and . _ - @ characters."
		c.render(w, http.StatusBadRequest, "signin", c.newPage(r, "Sign in", "", d))
		return
	}
	a.throttle.succeed(passwordAccount, addr)
	a.startSession(w, r, q, session{Name: name}, now)
	c.log.Info("admin: signed in", "name", name, "addr", addr)
	http.Redirect(w, r, q.base+d.Next, http.StatusSeeOther)
}

// startSession gives s a new ID and expiry, and sets its cookie.
func (a *PasswordAuth) startSession(w http.ResponseWriter, r *http.Request, q *request, s session, now time.Time) {
	id := make([]byte, 16)
	rand.Read(id)
	s.ID, s.Expires = base64.RawURLEncoding.EncodeToString(id), now.Add(a.ttl).Unix()
	http.SetCookie(w, &http.Cookie{
		Name:     a.cookie,
		Value:    a.seal(s),
		Path:     a.cookiePath(q),
		MaxAge:   int(a.ttl.Seconds()),
		HttpOnly: true,
		Secure:   a.secure.For(r),
		SameSite: http.SameSiteLaxMode,
	})
}

// signInUser checks a user name and password against PasswordOptions.Users,
// or the shared password while there are no users. Whether or not the name
// is known, it reads the same users and runs bcrypt once, so that the time
// taken does not tell which names exist.
func (a *PasswordAuth) signInUser(w http.ResponseWriter, r *http.Request, c *Console, q *request, d *signInData) {
	all, err := a.users.Users(r.Context())
	if err != nil {
		c.serverError(w, r, "read the users", err)
		return
	}
	d.Bootstrap = len(all) == 0
	account := passwordAccount
	if !d.Bootstrap {
		account = "user " + strings.ToLower(d.Name)
	}
	addr := a.clientIP(r)
	now := a.now()
	if a.lockedOut(w, r, c, d, account, addr, now) {
		return
	}
	password := r.PostForm.Get("password")
	var user *flagon.User
	for i := range all {
		if all[i].Name == d.Name {
			user = &all[i]
		}
	}
	hash := dummyHash()
	if user != nil {
		hash = user.PasswordHash
	}
	ok := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil && user != nil && !user.Disabled
	s := session{Name: d.Name}
	if d.Bootstrap {
		given := sha256.Sum256([]byte(password))
		ok = subtle.ConstantTimeCompare(given[:], a.hash[:]) == 1
		s = session{Name: BootstrapName, Boot: true}
	} else if ok {
		s.Pass = passPrint(user.PasswordHash)
	}
	if !ok {
		a.throttle.fail(account, addr, now)
		c.log.Warn("admin: failed sign-in", "name", d.Name, "addr", addr)
		d.Error = "That name and password do not match."
		if d.Bootstrap {
			d.Error = "That password is not right."
		}
		c.render(w, http.StatusUnauthorized, "signin", c.newPage(r, "Sign in", "", d))
		return
	}
	a.throttle.succeed(account, addr)
	a.startSession(w, r, q, s, now)
	c.log.Info("admin: signed in", "name", s.Name, "bootstrap", s.Boot, "addr", addr)
	http.Redirect(w, r, q.base+d.Next, http.StatusSeeOther)
}

// dummyHash is a bcrypt hash that no password is tried against but for
// timing: sign-ins of unknown names check it, as long as a real one takes.
var dummyHash = sync.OnceValue(func() string {
	h, err := bcrypt.GenerateFromPassword([]byte(GeneratePassword()), bcrypt.DefaultCost)
	if err != nil {
		panic(err)
	}
	return string(h)
})

// MaxPasswordLen is the longest password HashPassword accepts: bcrypt
// reads no further.
const MaxPasswordLen = 72

// HashPassword returns the bcrypt hash of a user's password, which must be
// MinPasswordLen to MaxPasswordLen bytes, for flagon.User.PasswordHash.
func HashPassword(password string) (string, error) {
	if len(password) < MinPasswordLen || len(password) > MaxPasswordLen {
		return "", fmt.Errorf("admin: a password must be %d to %d bytes", MinPasswordLen, MaxPasswordLen)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("admin: hash password: %w", err)
	}
	return string(h), nil
}

func (a *PasswordAuth) cookiePath(q *request) string {
	if a.path != "" {
		return a.path
	}
	return q.base
}

// lockedOut answers 429 with the sign-in page and reports true while
// account is locked for addr after failed attempts.
func (a *PasswordAuth) lockedOut(w http.ResponseWriter, r *http.Request, c *Console, d *signInData, account, addr string, now time.Time) bool {
	wait := a.throttle.wait(account, addr, now)
	if wait <= 0 {
		return false
	}
	d.Error = fmt.Sprintf("Too many failed attempts. Try again in %s.", humanWait(wait))
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	c.render(w, http.StatusTooManyRequests, "signin", c.newPage(r, "Sign in", "", d))
	return true
}

// prune forgets signed-out sessions that have expired anyway.
// a.signedOut.mu is held.
func (a *PasswordAuth) prune() {
	now := a.now()
	for id, exp := range a.signedOut.ids {
		if now.After(exp) {
			delete(a.signedOut.ids, id)
		}
	}
}

// ForEnvironment returns the sign-in of another environment's console:
// the same password, users and session cookie, with the role a user has in
// env. The copies share one sign-in throttle and one list of signed-out
// sessions, so several consoles neither multiply the attempts a client
// may make nor keep a session alive that was signed out in one of them.
func (a *PasswordAuth) ForEnvironment(env string) *PasswordAuth {
	c := *a
	c.env = env
	return &c
}

// cleanName checks the name typed at sign-in; empty means "admin".
func cleanName(s string) (string, bool) {
	if s == "" {
		return "admin", true
	}
	if len(s) > 64 {
		return "", false
	}
	for _, r := range s {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == ' ' || r == '.' || r == '_' || r == '-' || r == '@') {
			return "", false
		}
	}
	return s, true
}

// humanWait writes a lockout's wait for the sign-in page.
func humanWait(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%d seconds", int(math.Ceil(d.Seconds())))
	}
	return fmt.Sprintf("%d minutes", int(math.Ceil(d.Minutes())))
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
