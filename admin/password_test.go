package admin

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestNewPasswordAuth(t *testing.T) {
	if _, err := NewPasswordAuth("short", nil); err == nil {
		t.Error("a 5-character password was accepted")
	}
	if p := GeneratePassword(); len(p) != 20 || p == GeneratePassword() {
		t.Errorf("GeneratePassword() = %q", p)
	}
}

// signInForm loads the sign-in page and returns its form.
func signInForm(t *testing.T, b *browser) url.Values {
	t.Helper()
	r := b.get("/admin/signin")
	if r.status != http.StatusOK {
		t.Fatalf("sign-in page: %d", r.status)
	}
	return formOf(t, r.body, "signin")
}

func TestPasswordSignIn(t *testing.T) {
	auth, _ := NewPasswordAuth(testPassword, nil)
	h := newHarness(t, harnessOptions{authorize: auth.Authorize, signIn: auth})
	b := h.browser("")

	form := signInForm(t, b)
	form.Set("password", "wrong password")
	form.Set("name", "ann")
	r := b.post("/admin/signin", form)
	if r.status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", r.status)
	}
	mustContain(t, r.body, "That password is not right.", `aria-invalid="true"`, `value="ann"`)
	mustNotContain(t, r.body, flagNames...)

	form.Set("password", testPassword)
	form.Set("name", "ann <script>")
	if r = b.post("/admin/signin", form); r.status != http.StatusBadRequest {
		t.Errorf("bad name: %d", r.status)
	}

	form.Set("name", "ann")
	form.Set("next", "//evil.example/")
	r = b.post("/admin/signin", form)
	if r.status != http.StatusSeeOther || r.location != "/admin/" {
		t.Fatalf("sign in: %d to %q", r.status, r.location)
	}
	var session *http.Cookie
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == DefaultSessionCookieName {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/admin/" || session.MaxAge <= 0 {
		t.Fatalf("session cookie = %+v", session)
	}
	page := b.follow(r)
	mustContain(t, page.body, "ann <span class=\"role\">admin</span>", "Sign out", "<code>checkout</code>")

	// A tampered session is refused.
	req := httptest.NewRequest("GET", "/admin/flags", nil)
	req.AddCookie(&http.Cookie{Name: DefaultSessionCookieName, Value: strings.Replace(session.Value, ".", "x.", 1)})
	if _, err := auth.Authorize(req); err == nil {
		t.Error("a tampered session was accepted")
	}

	// Another environment's console accepts the same session...
	other := auth.ForEnvironment("staging")
	req = httptest.NewRequest("GET", "/env/staging/admin/flags", nil)
	req.AddCookie(session)
	if _, err := other.Authorize(req); err != nil {
		t.Errorf("the session in another environment's console: %v", err)
	}

	// Sign out: the cookie goes, and the old session no longer works,
	// in any environment's console.
	out := formOf(t, page.body, "signout")
	r = b.post("/admin/signout", out)
	if r.status != http.StatusSeeOther || r.location != "/admin/signin?done=signed-out" {
		t.Fatalf("sign out: %d %q", r.status, r.location)
	}
	req = httptest.NewRequest("GET", "/admin/flags", nil)
	req.AddCookie(session)
	if _, err := auth.Authorize(req); err == nil {
		t.Error("a signed-out session still works")
	}
	if _, err := other.Authorize(req); err == nil {
		t.Error("a signed-out session still works in another environment's console")
	}
	if r := b.get("/admin/flags"); r.status != http.StatusSeeOther {
		t.Errorf("after sign-out: %d", r.status)
	}
	r = b.get("/admin/signin?done=signed-out")
	mustContain(t, r.body, "You are signed out.")
}

func TestPasswordExpiryAndLockout(t *testing.T) {
	auth, _ := NewPasswordAuth(testPassword, &PasswordOptions{SessionTTL: time.Hour})
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	auth.now = func() time.Time { return now }
	h := newHarness(t, harnessOptions{authorize: auth.Authorize, signIn: auth})
	b := h.browser("")
	form := signInForm(t, b)
	form.Set("password", testPassword)
	if r := b.post("/admin/signin", form); r.status != http.StatusSeeOther {
		t.Fatalf("sign in: %d", r.status)
	}
	if r := b.get("/admin/flags"); r.status != http.StatusOK {
		t.Fatalf("signed in: %d", r.status)
	}
	now = now.Add(61 * time.Minute)
	if r := b.get("/admin/flags"); r.status != http.StatusSeeOther {
		t.Errorf("after the session's hour: %d", r.status)
	}

	// Past the free failures, each failure locks for a while, during
	// which even the right password is refused unread.
	form = signInForm(t, b)
	form.Set("password", "nope nope")
	for i := range freeFailures + 1 {
		if r := b.post("/admin/signin", form); r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, r.status)
		}
	}
	form.Set("password", testPassword)
	r := b.post("/admin/signin", form)
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("locked out: %d", r.status)
	}
	mustContain(t, r.body, "Too many failed attempts")
	if r.header.Get("Retry-After") == "" {
		t.Error("a lockout without Retry-After")
	}
	// Another environment's console shares the lockout.
	other := auth.ForEnvironment("staging")
	b2 := newHarness(t, harnessOptions{authorize: other.Authorize, signIn: other}).browser("")
	form2 := signInForm(t, b2)
	form2.Set("password", testPassword)
	if r := b2.post("/admin/signin", form2); r.status != http.StatusTooManyRequests {
		t.Errorf("another environment's console during the lockout: %d", r.status)
	}
	now = now.Add(firstLock)
	if r := b.post("/admin/signin", form); r.status != http.StatusSeeOther {
		t.Errorf("after the lockout: %d", r.status)
	}
}

func TestSignInNeedsTheConsole(t *testing.T) {
	auth, _ := NewPasswordAuth(testPassword, nil)
	w := httptest.NewRecorder()
	auth.ServeHTTP(w, httptest.NewRequest("GET", "/signin", nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("served alone: %d", w.Code)
	}
	h := newHarness(t, harnessOptions{})
	if r := h.browser("ann:admin").get("/admin/signin"); r.status != http.StatusNotFound {
		t.Errorf("sign-in without Options.SignIn: %d", r.status)
	}
	// The console's pages, and the sign-in form, need the form token.
	h2 := newHarness(t, harnessOptions{authorize: auth.Authorize, signIn: auth})
	b := h2.browser("")
	b.get("/admin/signin")
	r := b.post("/admin/signin", url.Values{"csrf": {"forged"}, "password": {testPassword}})
	if r.status != http.StatusForbidden {
		t.Errorf("sign-in without the token: %d", r.status)
	}
	if r := b.post("/admin/signin/other", url.Values{}); r.status == http.StatusOK {
		t.Errorf("unknown sign-in path: %d", r.status)
	}
}
