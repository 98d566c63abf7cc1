package admin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode"
)

// Defaults of PasswordOptions.
const (
	DefaultSessionTTL        = 12 * time.Hour
	DefaultSessionCookieName = "flagon_admin_session"
	// MinPasswordLen is the shortest password NewPasswordAuth accepts.
	MinPasswordLen = 8
	// maxSignInFailures failed sign-ins from one address within
	// signInWindow lock that address out until the window ends.
	maxSignInFailures = 5
	signInWindow      = time.Minute
)

// PasswordOptions configures a PasswordAuth. The zero value is valid.
type PasswordOptions struct {
	// Key signs session cookies; at least 32 bytes. Nil means a random
	// key: sessions end when the process does and are not shared between
	// instances.
	Key []byte
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
}

// PasswordAuth is a sign-in with one shared password, the default of
// `flagon serve`: a sign-in page, a signed HttpOnly session cookie and
// sign-out. Whoever knows the password is an admin; the name they type
// (or "admin") is what the audit log records and what per-login overrides
// are kept under.
//
// Use its Authorize method as Options.Authorize and itself as
// Options.SignIn; the console serves it at "signin" and "signout".
type PasswordAuth struct {
	hash   [32]byte
	key    []byte
	ttl    time.Duration
	cookie string
	path   string
	now    func() time.Time

	mu       sync.Mutex
	revoked  map[string]time.Time // signed-out session IDs, until they expire
	failures map[string]*failure  // by remote address
}

type failure struct {
	n     int
	start time.Time
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
		hash:     sha256.Sum256([]byte(password)),
		ttl:      opts.SessionTTL,
		cookie:   opts.CookieName,
		path:     opts.CookiePath,
		now:      time.Now,
		revoked:  make(map[string]time.Time),
		failures: make(map[string]*failure),
	}
	if opts.Key != nil {
		if len(opts.Key) < 32 {
			return nil, errors.New("admin: password auth: the session key must be at least 32 bytes")
		}
		a.key = append([]byte(nil), opts.Key...)
	} else {
		a.key = make([]byte, 32)
		rand.Read(a.key)
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
}

// Authorize returns the admin principal of a request with a valid session
// cookie, or ErrUnauthenticated.
func (a *PasswordAuth) Authorize(r *http.Request) (Principal, error) {
	ck, err := r.Cookie(a.cookie)
	if err != nil {
		return Principal{}, ErrUnauthenticated
	}
	s, ok := a.open(ck.Value)
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	return Principal{Name: s.Name, Role: RoleAdmin}, nil
}

func (a *PasswordAuth) mac(body string) []byte {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte("flagon admin session\x00"))
	m.Write([]byte(body))
	return m.Sum(nil)
}

func (a *PasswordAuth) seal(s session) string {
	b, _ := json.Marshal(s)
	body := base64.RawURLEncoding.EncodeToString(b)
	return body + "." + base64.RawURLEncoding.EncodeToString(a.mac(body))
}

// open verifies a session cookie value.
func (a *PasswordAuth) open(v string) (session, bool) {
	if len(v) > 1024 {
		return session{}, false
	}
	body, sig, ok := strings.Cut(v, ".")
	if !ok {
		return session{}, false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, a.mac(body)) {
		return session{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(body)
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
	a.mu.Lock()
	_, revoked := a.revoked[s.ID]
	a.mu.Unlock()
	return s, !revoked
}

// signInData is what the sign-in page shows.
type signInData struct {
	Name  string
	Next  string
	Error string
}

// ServeHTTP serves the sign-in page (GET and POST "signin") and sign-out
// (POST "signout"). It must be served through the console
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
				a.mu.Lock()
				a.revoked[s.ID] = time.Unix(s.Expires, 0)
				a.prune()
				a.mu.Unlock()
			}
		}
		http.SetCookie(w, &http.Cookie{Name: a.cookie, Path: a.cookiePath(q), MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
		http.Redirect(w, r, q.base+"signin?done=signed-out", http.StatusSeeOther)
	case r.URL.Path == "/signin" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		next := r.URL.Query().Get("next")
		if !localPath(next) {
			next = ""
		}
		c.render(w, http.StatusOK, "signin", c.newPage(r, "Sign in", "", &signInData{Next: next}))
	case r.URL.Path == "/signin" && r.Method == http.MethodPost:
		a.signIn(w, r, c, q)
	default:
		w.Header().Set("Allow", "GET, POST")
		c.renderError(w, r, http.StatusMethodNotAllowed, "Method not allowed", "Use the sign-in form.")
	}
}

func (a *PasswordAuth) signIn(w http.ResponseWriter, r *http.Request, c *Console, q *request) {
	d := &signInData{Name: strings.TrimSpace(r.PostForm.Get("name")), Next: r.PostForm.Get("next")}
	if !localPath(d.Next) {
		d.Next = ""
	}
	addr := remoteHost(r)
	now := a.now()
	a.mu.Lock()
	f := a.failures[addr]
	if f != nil && now.Sub(f.start) >= signInWindow {
		delete(a.failures, addr)
		f = nil
	}
	locked := f != nil && f.n >= maxSignInFailures
	a.mu.Unlock()
	if locked {
		d.Error = "Too many failed attempts. Wait a minute, then try again."
		c.render(w, http.StatusTooManyRequests, "signin", c.newPage(r, "Sign in", "", d))
		return
	}
	given := sha256.Sum256([]byte(r.PostForm.Get("password")))
	if subtle.ConstantTimeCompare(given[:], a.hash[:]) != 1 {
		a.mu.Lock()
		if f = a.failures[addr]; f == nil {
			if len(a.failures) > 10000 {
				clear(a.failures)
			}
			f = &failure{start: now}
			a.failures[addr] = f
		}
		f.n++
		a.mu.Unlock()
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
	a.mu.Lock()
	delete(a.failures, addr)
	a.mu.Unlock()
	id := make([]byte, 16)
	rand.Read(id)
	s := session{Name: name, ID: base64.RawURLEncoding.EncodeToString(id), Expires: now.Add(a.ttl).Unix()}
	http.SetCookie(w, &http.Cookie{
		Name:     a.cookie,
		Value:    a.seal(s),
		Path:     a.cookiePath(q),
		MaxAge:   int(a.ttl.Seconds()),
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteLaxMode,
	})
	c.log.Info("admin: signed in", "name", name, "addr", addr)
	http.Redirect(w, r, q.base+d.Next, http.StatusSeeOther)
}

func (a *PasswordAuth) cookiePath(q *request) string {
	if a.path != "" {
		return a.path
	}
	return q.base
}

// prune forgets revoked sessions that have expired anyway. a.mu is held.
func (a *PasswordAuth) prune() {
	now := a.now()
	for id, exp := range a.revoked {
		if now.After(exp) {
			delete(a.revoked, id)
		}
	}
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

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
