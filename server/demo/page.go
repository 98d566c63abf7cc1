package demo

import (
	"crypto/rand"
	"encoding/hex"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
)

// The demo's cookies: who the visitor pretends to be, and a random visitor
// ID that percentage rollouts hash when nobody is signed in.
const (
	demoUserCookie    = "flagon_demo_user"
	demoVisitorCookie = "flagon_demo_visitor"
)

// demoUser is one identity the demo page can take on.
type demoUser struct {
	ID, Name, Email string
	Staff           bool
}

var demoUsers = []demoUser{
	{ID: "", Name: "Anonymous visitor"},
	{ID: "ann", Name: "Ann (staff)", Email: "ann@example.com", Staff: true},
	{ID: "bea", Name: "Bea (beta tester)", Email: "bea@beta.example.com"},
	{ID: "carl", Name: "Carl (customer)", Email: "carl@example.org"},
}

func findDemoUser(id string) demoUser {
	for _, u := range demoUsers {
		if u.ID == id {
			return u
		}
	}
	return demoUsers[0]
}

// Context is the demo's flagonhttp.Options.Context: the demo identity the
// visitor chose, or the anonymous visitor ID. Anyone can choose any
// identity: that is the point of the demo, and why it never runs in
// production.
func Context(r *http.Request) flagon.EvalContext {
	u := findDemoUser(cookie(r, demoUserCookie))
	ec := flagon.EvalContext{Key: u.ID, Attrs: map[string]any{"is_staff": u.Staff}}
	if u.ID == "" {
		ec.Key = cookie(r, demoVisitorCookie)
	} else {
		ec.Attrs["email"] = u.Email
		ec.Attrs["user"] = u.ID
	}
	return ec
}

func cookie(r *http.Request, name string) string {
	if c, err := r.Cookie(name); err == nil {
		return c.Value
	}
	return ""
}

// CanOverride is the demo's flagonhttp.Options.CanOverride: a visitor who
// chose a staff identity may override staff-policy flags.
func CanOverride(r *http.Request, _ flagon.Flag) bool {
	return findDemoUser(cookie(r, demoUserCookie)).Staff
}

// Routes adds the demo shop at "GET /" and the identity switch at "POST
// /demo/as" to mux, which is to be served behind flagonhttp's middleware
// with Context and CanOverride, and WithVisitor.
func Routes(mux *http.ServeMux, client *flagon.Client) {
	mux.Handle("GET /{$}", newPage(client))
	mux.Handle("POST /demo/as", http.NewCrossOriginProtection().Handler(http.HandlerFunc(switchUser)))
}

// WithVisitor gives a browser a random visitor ID on its first request, so
// that percentage rollouts treat it as one stable visitor.
func WithVisitor(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := r.Cookie(demoVisitorCookie); err != nil {
			var b [12]byte
			_, _ = rand.Read(b[:])
			c := &http.Cookie{Name: demoVisitorCookie, Value: "visitor-" + hex.EncodeToString(b[:]), Path: "/",
				MaxAge: int((365 * 24 * time.Hour).Seconds()), HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil}
			http.SetCookie(w, c)
			r.AddCookie(c)
		}
		next.ServeHTTP(w, r)
	})
}

// demoPage renders the demo shop whose pages depend on the flags.
type demoPage struct {
	client *flagon.Client
	tmpl   *template.Template
}

func newPage(client *flagon.Client) *demoPage {
	funcs := flagonhttp.FuncMap(client)
	funcs["why"] = func(r *http.Request, key string) string {
		res := client.Evaluate(r.Context(), key)
		s := string(res.Reason)
		if res.Rule > 0 {
			s += ", rule " + strconv.Itoa(res.Rule)
		}
		if res.Reason == flagon.ReasonOverride {
			s += ", from your " + res.OverrideSource
		}
		return s
	}
	funcs["link"] = flagonhttp.Link
	return &demoPage{client: client, tmpl: template.Must(template.New("demo").Funcs(funcs).Parse(demoHTML))}
}

type demoData struct {
	R       *http.Request
	User    demoUser
	Users   []demoUser
	Signup  string
	Hour    time.Duration
	Variant []string
}

func (p *demoPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d := demoData{
		R: r, User: findDemoUser(cookie(r, demoUserCookie)), Users: demoUsers, Hour: time.Hour,
		Variant: []string{"classic", "express", "one-click"},
	}
	if r.URL.Query().Get("signed-up") != "" {
		d.Signup = "old"
		if p.client.Bool(r.Context(), "use-new-email-service", false) {
			d.Signup = "new"
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := p.tmpl.Execute(w, d); err != nil {
		http.Error(w, "template error", http.StatusInternalServerError)
	}
}

// switchUser switches the demo identity: a POST, checked against
// cross-origin requests by Handler's CrossOriginProtection.
func switchUser(w http.ResponseWriter, r *http.Request) {
	u := findDemoUser(r.PostFormValue("user"))
	http.SetCookie(w, &http.Cookie{Name: demoUserCookie, Value: u.ID, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil, MaxAge: 30 * 24 * 3600})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

const demoHTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Acme shop — a Flagon demo</title>
<link rel="icon" href="data:,">
<style>
:root { color-scheme: light dark; --bg:#f7f7f5; --fg:#1d1d1f; --muted:#66676b; --card:#fff; --line:#e2e2e0; --accent:#3b5bdb; --new:#e6fcf5; --newline:#38d9a9; }
@media (prefers-color-scheme: dark) { :root { --bg:#16171a; --fg:#ececef; --muted:#a0a1a8; --card:#1f2024; --line:#34353b; --accent:#748ffc; --new:#0f2e26; --newline:#20c997; } }
body { margin:0; font:16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--fg); }
header, main { max-width: 60rem; margin: 0 auto; padding: 1rem 1.5rem; }
header { display:flex; gap:1rem; align-items:center; justify-content:space-between; flex-wrap:wrap; }
h1 { font-size:1.4rem; margin:0; } h2 { font-size:1.1rem; margin:0 0 .5rem; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:1rem 1.25rem; margin:1rem 0; }
.new { background:var(--new); border-color:var(--newline); }
.why { color:var(--muted); font-size:.85rem; }
a { color:var(--accent); } .links a { margin-right:1rem; }
button, select { font:inherit; padding:.3rem .7rem; border-radius:6px; border:1px solid var(--line); background:var(--card); color:var(--fg); }
.flagon-banner { background:#fff3bf; color:#5c3c00; padding:.5rem 1.5rem; text-align:center; }
.maintenance { background:#ffe3e3; color:#7d1414; padding:.5rem 1.5rem; text-align:center; }
pre { background:var(--bg); border:1px solid var(--line); padding:.75rem; border-radius:6px; overflow:auto; font-size:.8rem; }
</style>
</head>
<body>
{{overrideBanner .R}}
{{if flag .R "maintenance-mode"}}<div class="maintenance" role="alert">Scheduled maintenance tonight: checkout may be slow.</div>{{end}}
<header>
  <h1>Acme shop <span class="why">— a Flagon demo</span></h1>
  <form method="post" action="/demo/as">
    <label for="user">Signed in as</label>
    <select id="user" name="user">{{range .Users}}<option value="{{.ID}}"{{if eq .ID $.User.ID}} selected{{end}}>{{.Name}}</option>{{end}}</select>
    <button type="submit">Switch</button>
  </form>
</header>
<main>
{{if flag .R "new-home-page"}}
  <section class="card new" id="home" data-variant="new">
    <h2>✨ The new home page</h2>
    <p>Hand-picked deals, faster search, and a cleaner look.</p>
    <p class="why">new-home-page = on ({{why .R "new-home-page"}})</p>
  </section>
{{else}}
  <section class="card" id="home" data-variant="classic">
    <h2>The classic home page</h2>
    <p>Everything you know, right where it was.</p>
    <p class="why">new-home-page = off ({{why .R "new-home-page"}})</p>
  </section>
{{end}}
  <section class="card">
    <h2>Try it yourself</h2>
    <p class="links">
      <a id="enable-new-home" href="{{link "new-home-page" true .Hour "/"}}">Turn the new home page on for an hour</a>
      <a id="disable-new-home" href="{{link "new-home-page" false .Hour "/"}}">Turn it off</a>
      <a id="default-new-home" href="{{link "new-home-page" nil 0 "/"}}">Back to default</a>
    </p>
    <p class="why">These links set a signed override cookie in this browser and bring you back here.
      Staff can manage every override, edit rollouts and read the audit log in the <a href="/admin/">admin UI</a>.</p>
  </section>
  <section class="card">
    <h2>Checkout: <span id="checkout">{{variant .R "checkout"}}</span></h2>
    <p class="why">checkout ({{why .R "checkout"}}) · try
      {{range .Variant}}<a href="{{link "checkout" . $.Hour "/"}}">{{.}}</a> {{end}}</p>
  </section>
  <section class="card">
    <h2>Sign up</h2>
    {{if .Signup}}<p id="signup-result">Welcome e-mail sent through the <strong>{{.Signup}}</strong> e-mail service.</p>{{end}}
    <form method="get" action="/"><input type="hidden" name="signed-up" value="1"><button type="submit">Create my account</button></form>
    <p class="why">use-new-email-service ({{why .R "use-new-email-service"}}) — its policy is staff: only staff may override it.</p>
  </section>
  <section class="card">
    <h2>What front-end code sees</h2>
    <p class="why">GET <a href="/features.json">/features.json</a> returns this request's decisions, overrides included.</p>
    <pre id="features">(loading…)</pre>
  </section>
</main>
<script>
fetch("/features.json", {credentials: "same-origin"}).then(r => r.json()).then(j => {
  document.getElementById("features").textContent = JSON.stringify(j, null, 2);
}).catch(() => { document.getElementById("features").textContent = "unavailable"; });
</script>
</body>
</html>
`
