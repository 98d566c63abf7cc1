package admin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"time"
)

// The console's cookies. Each is scoped to the console's path.
const (
	csrfCookieName  = "flagon_admin_csrf"
	themeCookieName = "flagon_admin_theme"
)

// maxFormBytes bounds a POSTed form.
const maxFormBytes = 1 << 20

// csrfSeed returns the request's form-token seed, the value of the CSRF
// cookie, setting a new cookie when the request has none (or a malformed
// one).
func (c *Console) csrfSeed(w http.ResponseWriter, r *http.Request, q *request) string {
	if ck, err := r.Cookie(csrfCookieName); err == nil && validSeed(ck.Value) {
		return ck.Value
	}
	b := make([]byte, 32)
	rand.Read(b)
	seed := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{
		Name:     csrfCookieName,
		Value:    seed,
		Path:     q.base,
		HttpOnly: true,
		Secure:   c.opts.Overrides.CookieSecure.For(r),
		SameSite: http.SameSiteLaxMode,
	})
	return seed
}

func validSeed(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == 32
}

// csrfToken returns the form token for the request's session and
// principal: a digest of the CSRF cookie and the principal's name, sealed
// with the signing keys of Options.Overrides, so that a token is good
// only with its cookie, for its principal, and cannot be made without the
// keys; it verifies on every instance that shares them.
func (c *Console) csrfToken(w http.ResponseWriter, r *http.Request, q *request) string {
	if q.seed == "" {
		q.seed = c.csrfSeed(w, r, q)
	}
	return c.tokenFor(q.seed, q.principal.Name)
}

func (c *Console) tokenFor(seed, name string) string {
	d := formDigest(seed, name)
	return c.opts.Overrides.Keys.Seal(formPurpose, d[:])
}

// formPurpose is what form tokens are sealed for.
const formPurpose = "flagon-admin-form"

// maxFormToken bounds a form token read from a POST.
const maxFormToken = 256

// formDigest binds a form token to its seed and principal.
func formDigest(seed, name string) [sha256.Size]byte {
	return sha256.Sum256([]byte(seed + "\x00" + name))
}

// validCSRF reports whether a POST carries the form token that matches
// the CSRF cookie it came with, comparing in constant time. It parses the
// form, bounded to maxFormBytes.
func (c *Console) validCSRF(r *http.Request, q *request) bool {
	ck, err := r.Cookie(csrfCookieName)
	if err != nil || !validSeed(ck.Value) {
		return false
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return false
	}
	got, err := c.opts.Overrides.Keys.Open(formPurpose, r.PostForm.Get("csrf"), maxFormToken)
	want := formDigest(ck.Value, q.principal.Name)
	return err == nil && hmac.Equal(got, want[:])
}

// themeOf returns the theme the request's cookie chose: "light", "dark",
// or "" to follow the system.
func themeOf(r *http.Request) string {
	if ck, err := r.Cookie(themeCookieName); err == nil {
		switch ck.Value {
		case "light", "dark":
			return ck.Value
		}
	}
	return ""
}

// setTheme stores the chosen theme in a cookie and goes back.
func (c *Console) setTheme(w http.ResponseWriter, r *http.Request, q *request) {
	theme := r.PostForm.Get("theme")
	ck := &http.Cookie{Name: themeCookieName, Path: q.base, HttpOnly: true, Secure: c.opts.Overrides.CookieSecure.For(r), SameSite: http.SameSiteLaxMode}
	switch theme {
	case "light", "dark":
		ck.Value = theme
		ck.MaxAge = int((365 * 24 * time.Hour).Seconds())
	default:
		ck.MaxAge = -1
	}
	http.SetCookie(w, ck)
	back := r.PostForm.Get("back")
	if !localPath(back) {
		back = ""
	}
	http.Redirect(w, r, q.base+back, http.StatusSeeOther)
}

// localPath reports whether p is a path relative to the console, safe to
// redirect to: no scheme, no host, no backslashes or control characters.
func localPath(p string) bool {
	if len(p) > 2048 {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c < 0x20 || c == 0x7f || c == '\\' {
			return false
		}
	}
	if p == "" {
		return true
	}
	if p[0] == '/' || p[0] == '.' {
		return false
	}
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case ':':
			return false
		case '/', '?', '#':
			return true
		}
	}
	return true
}
