package main

import (
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
)

//go:embed templates/*.html
var templateFS embed.FS

// userCookie holds the signed-in user's e-mail. It stands in for a real
// session: it is not signed, so anyone can claim to be anyone. Do not copy
// it.
const userCookie = "demo_user"

// app is the example: a home page behind new-home-page, a sign-up whose
// welcome e-mail goes through use-new-email-service, and a page that
// manages this browser's overrides.
type app struct {
	client *flagon.Client
	opts   *flagonhttp.Options
	codec  *flagonhttp.Codec
	policy *flagonhttp.Policy
	pages  map[string]*template.Template
	log    *slog.Logger
}

// newApp returns the example's handler. keys may be nil (a per-process
// key then signs the cookies).
func newApp(client *flagon.Client, keys *flagonhttp.Keys, log *slog.Logger) http.Handler {
	opts := &flagonhttp.Options{
		Keys:        keys,
		Context:     evalContext,
		CanOverride: func(r *http.Request, f flagon.Flag) bool { return isStaff(currentUser(r)) },
		ManageURL:   "/features",
		Logger:      log,
	}
	a := &app{
		client: client,
		opts:   opts,
		codec:  flagonhttp.NewCodec(opts),
		policy: flagonhttp.NewPolicy(opts),
		pages:  map[string]*template.Template{},
		log:    log,
	}
	for _, name := range []string{"home", "signup", "features"} {
		a.pages[name] = template.Must(template.New(name).Funcs(flagonhttp.FuncMap(client)).
			ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}

	// The app's own POSTs pass the same cross-origin check as the
	// override link's (which checks its own).
	csrf := http.NewCrossOriginProtection()
	post := func(h http.HandlerFunc) http.Handler { return csrf.Handler(h) }

	mux := http.NewServeMux()
	flagonhttp.Mount(mux, client, opts) // /features/{name}, /features.json
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /signup", a.signup)
	mux.Handle("POST /signup", post(a.signup))
	mux.HandleFunc("GET /features", a.features)
	mux.Handle("POST /overrides/clear", post(a.clear))
	mux.Handle("POST /overrides/clean", post(a.clean))
	mux.HandleFunc("GET /login", a.login)
	mux.HandleFunc("GET /logout", a.logout)
	return flagonhttp.Middleware(client, opts)(mux)
}

func currentUser(r *http.Request) string {
	if c, err := r.Cookie(userCookie); err == nil {
		return c.Value
	}
	return ""
}

func isStaff(email string) bool { return strings.HasSuffix(email, "@example.com") }

// evalContext is Options.Context: who the request is for.
func evalContext(r *http.Request) flagon.EvalContext {
	u := currentUser(r)
	if u == "" {
		return flagon.EvalContext{}
	}
	return flagon.EvalContext{Key: u, Attrs: map[string]any{"email": u, "is_staff": isStaff(u)}}
}

// page is what every template gets.
type page struct {
	Title string
	Ctx   any // the request's context, for the template functions
	User  string
	Staff bool
}

func (a *app) newPage(r *http.Request, title string) page {
	u := currentUser(r)
	return page{Title: title, Ctx: r.Context(), User: u, Staff: isStaff(u)}
}

func (a *app) render(w http.ResponseWriter, name string, data any) {
	var b strings.Builder
	if err := a.pages[name].ExecuteTemplate(&b, name+".html", data); err != nil {
		a.log.Error("render", "page", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, b.String())
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	a.render(w, "home", a.newPage(r, "Home"))
}

// signup shows the form, and on POST "sends" the welcome e-mail through
// the service the flag chooses.
func (a *app) signup(w http.ResponseWriter, r *http.Request) {
	data := struct {
		page
		Sent *sent
	}{page: a.newPage(r, "Sign up")}
	if r.Method == http.MethodPost {
		to := strings.TrimSpace(r.FormValue("email"))
		if to == "" || len(to) > 254 || !strings.Contains(to, "@") {
			http.Error(w, "email: give an e-mail address", http.StatusBadRequest)
			return
		}
		data.Sent = &sent{To: to, Service: a.sendWelcome(r, to)}
	}
	a.render(w, "signup", data)
}

type sent struct{ To, Service string }

// sendWelcome sends the welcome e-mail, pretending, and says through
// which service.
func (a *app) sendWelcome(r *http.Request, to string) string {
	service := "the old SMTP relay"
	if a.client.Bool(r.Context(), "use-new-email-service", false) {
		service = "the new e-mail service"
	}
	a.log.Info("welcome e-mail sent", "to", to, "service", service)
	return service
}

// row is one flag on the overrides page.
type row struct {
	Key, Description, Who string
	Value                 any
	Source, Expires       string
	Status, Problem       string // the cookie entry's, if any
	Note                  string // why there are no choices
	Choices               []choice
	ShareLink             string
}

// choice is one button: a link for flags anyone may override, a form
// that POSTs for the others.
type choice struct {
	Label, Link, Action string
	Form                map[string]string
}

// features lists the flags with this browser's overrides, On / Off /
// Default buttons as the articles' admin page had, and the stale
// overrides highlighted.
func (a *app) features(w http.ResponseWriter, r *http.Request) {
	snap := a.client.Snapshot()
	entries, err := a.codec.Read(r, snap)
	byFlag := map[string]flagonhttp.Entry{}
	var stale []flagonhttp.Entry
	for _, e := range entries {
		if e.Status == flagonhttp.EntryStale {
			stale = append(stale, e)
		}
		byFlag[e.Flag] = e
	}
	data := struct {
		page
		Rows        []row
		Stale       []flagonhttp.Entry
		CookieError error
	}{page: a.newPage(r, "Feature overrides"), Stale: stale, CookieError: err}

	for res := range a.client.All(r.Context()) {
		f, _ := snap.Flag(res.Key)
		rw := row{Key: f.Key, Description: f.Description, Who: string(f.Override.EffectiveWho()), Value: res.Value}
		if res.Reason == flagon.ReasonOverride {
			rw.Source = res.OverrideSource
		}
		if e, ok := byFlag[f.Key]; ok {
			rw.Status, rw.Problem = string(e.Status), e.Problem
			if e.Status == flagonhttp.EntryActive {
				rw.Expires = e.ExpiresAt.Local().Format(time.DateTime)
			}
		}
		switch _, err := a.policy.Permit(r, snap, f.Key); {
		case f.Override.EffectiveWho() == flagon.WhoNone:
			rw.Note = "never overridden"
		case err != nil:
			rw.Note = "staff only"
		default:
			rw.Choices = choices(f)
		}
		if f.Override.EffectiveWho() == flagon.WhoStaff && isStaff(currentUser(r)) && f.Type == flagon.TypeBool {
			token, _, err := flagonhttp.MintShareToken(a.opts.Keys, f.Key, true, 24*time.Hour, time.Now().Add(7*24*time.Hour))
			if err == nil {
				rw.ShareLink = flagonhttp.ShareLink(f.Key, token, "/signup")
			}
		}
		data.Rows = append(data.Rows, rw)
	}
	a.render(w, "features", data)
}

// choices returns the buttons for a flag: each value its policy allows,
// and Default.
func choices(f flagon.Flag) []choice {
	type opt struct {
		label string
		value any
	}
	var opts []opt
	if f.Type == flagon.TypeBool {
		opts = []opt{{"On", true}, {"Off", false}}
	} else {
		for _, v := range f.Variants {
			if len(f.Override.Variants) == 0 || slices.Contains(f.Override.Variants, v.Name) {
				opts = append(opts, opt{v.Name, v.Name})
			}
		}
	}
	opts = append(opts, opt{"Default", nil})
	var out []choice
	for _, o := range opts {
		link := flagonhttp.Link(f.Key, o.value, 0, "/features")
		if f.Override.EffectiveWho() == flagon.WhoAnyone {
			out = append(out, choice{Label: o.label, Link: link})
			continue
		}
		// A staff flag is set by a POST of the same parameters.
		path, query, _ := strings.Cut(link, "?")
		q, _ := url.ParseQuery(query)
		form := map[string]string{}
		for k := range q {
			form[k] = q.Get(k)
		}
		out = append(out, choice{Label: o.label, Action: path, Form: form})
	}
	return out
}

// clear deletes the override cookie.
func (a *app) clear(w http.ResponseWriter, r *http.Request) {
	a.codec.Delete(w, r)
	http.Redirect(w, r, "/features", http.StatusSeeOther)
}

// clean rewrites the override cookie with only the entries that apply.
func (a *app) clean(w http.ResponseWriter, r *http.Request) {
	entries, _ := a.codec.Read(r, a.client.Snapshot())
	if err := a.codec.Write(w, r, entries); err != nil { // Write keeps active entries only
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	http.Redirect(w, r, "/features", http.StatusSeeOther)
}

// login signs in as the user ?as= names: the demo's stand-in for a login
// form.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	as := r.URL.Query().Get("as")
	if as == "" || len(as) > 254 || !strings.Contains(as, "@") || strings.ContainsAny(as, ";, \"") {
		http.Error(w, "as: give an e-mail address", http.StatusBadRequest)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: userCookie, Value: as, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/features", http.StatusSeeOther)
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: userCookie, Path: "/", MaxAge: -1})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
