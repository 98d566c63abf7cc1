package flagonhttp_test

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
)

// exampleClient returns a client with the articles' two flags: anyone may
// try the new home page; the new e-mail service is for staff.
func exampleClient() *flagon.Client {
	src, err := flagon.NewMemorySource(flagon.Definitions{Flags: []flagon.Flag{
		{Key: "new-home-page", Description: "Expose the new home page", Override: flagon.OverridePolicy{Who: flagon.WhoAnyone}},
		{Key: "use-new-email-service", Description: "Send registration e-mail through the new service"},
	}}, "")
	if err != nil {
		log.Fatal(err)
	}
	return flagon.NewClient(src, nil)
}

// exampleKeys is a fixed key ring; real programs read theirs from a
// secret (see ParseKeys).
var exampleKeys = flagonhttp.MustKeys(flagonhttp.Key{ID: "k1", Secret: bytes.Repeat([]byte{7}, 32)})

// ExampleMiddleware wraps a plain http.ServeMux, mounts the override link,
// and follows it in a client with a cookie jar, as a browser would.
func ExampleMiddleware() {
	client := exampleClient()
	opts := &flagonhttp.Options{Keys: exampleKeys}

	mux := http.NewServeMux()
	flagonhttp.Mount(mux, client, opts) // /features/{name} and /features.json
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if client.Bool(r.Context(), "new-home-page", false) {
			fmt.Fprintln(w, "the new home page")
		} else {
			fmt.Fprintln(w, "the old home page")
		}
	})
	srv := httptest.NewServer(flagonhttp.Middleware(client, opts)(mux))
	defer srv.Close()

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	for _, path := range []string{
		"/",
		"/features/new-home-page?enable=true&duration=86400&redirect_url=/",
		"/",
		"/features/new-home-page?enable=default",
	} {
		resp, err := browser.Get(srv.URL + path)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s: %s", path, body)
	}
	// Output:
	// /: the old home page
	// /features/new-home-page?enable=true&duration=86400&redirect_url=/: the new home page
	// /: the new home page
	// /features/new-home-page?enable=default: the old home page
}

// ExampleMiddleware_chain composes the middleware with other middleware
// and a sub-router mounted under a prefix with http.StripPrefix. Routers
// such as chi and gorilla/mux take the same func(http.Handler)
// http.Handler: r.Use(flagonhttp.Middleware(client, opts)).
func ExampleMiddleware_chain() {
	client := exampleClient()
	opts := &flagonhttp.Options{Keys: exampleKeys}

	// A sub-router for the API, mounted under /api/.
	api := http.NewServeMux()
	api.HandleFunc("GET /home", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s new-home-page=%v\n", r.URL.Path, client.Bool(r.Context(), "new-home-page", false))
	})
	root := http.NewServeMux()
	root.Handle("/api/", http.StripPrefix("/api", api))
	flagonhttp.Mount(root, client, opts)

	// chain applies middleware outermost first, as r.Use does in chi.
	chain := func(h http.Handler, mws ...func(http.Handler) http.Handler) http.Handler {
		for i := len(mws) - 1; i >= 0; i-- {
			h = mws[i](h)
		}
		return h
	}
	serverHeader := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Server", "example")
			next.ServeHTTP(w, r)
		})
	}
	handler := chain(root, serverHeader, flagonhttp.Middleware(client, opts))

	// A cookie minted by the codec, as the override link would set it.
	cookie, _ := flagonhttp.NewCodec(opts).Cookie(nil, []flagonhttp.Entry{{Flag: "new-home-page", Value: true}})
	for _, withCookie := range []bool{false, true} {
		r := httptest.NewRequest("GET", "/api/home", nil)
		if withCookie {
			r.AddCookie(cookie)
		}
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		fmt.Printf("%sVary=%q Cache-Control=%q\n", w.Body, w.Header().Get("Vary"), w.Header().Get("Cache-Control"))
	}
	// Output:
	// /home new-home-page=false
	// Vary="" Cache-Control=""
	// /home new-home-page=true
	// Vary="Cookie" Cache-Control="private"
}

// ExampleFuncMap renders a page whose template reads flags from the
// request's context.
func ExampleFuncMap() {
	client := exampleClient()
	opts := &flagonhttp.Options{Keys: exampleKeys, ManageURL: "/admin/overrides"}
	page := template.Must(template.New("home").Funcs(flagonhttp.FuncMap(client)).Parse(
		`{{overrideBanner .Ctx}}
{{if flag .Ctx "new-home-page"}}<h1>Welcome to the new home page</h1>{{else}}<h1>Welcome</h1>{{end}}
<p>Variant: {{variant .Ctx "new-home-page"}}</p>
`))
	handler := flagonhttp.Middleware(client, opts)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := page.Execute(w, map[string]any{"Ctx": r.Context()}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}))

	cookie, _ := flagonhttp.NewCodec(opts).Cookie(nil, []flagonhttp.Entry{{Flag: "new-home-page", Value: true}})
	for _, withCookie := range []bool{false, true} {
		r := httptest.NewRequest("GET", "/", nil)
		if withCookie {
			r.AddCookie(cookie)
		}
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		fmt.Print(w.Body)
	}
	// Output:
	//
	// <h1>Welcome</h1>
	// <p>Variant: off</p>
	// <div class="flagon-banner" role="status">1 flag override active — <a href="/admin/overrides">manage</a></div>
	// <h1>Welcome to the new home page</h1>
	// <p>Variant: on</p>
}

// ExampleMintShareToken mints a share link that lets anyone who opens it
// try a staff-only flag for a day, for the next week.
func ExampleMintShareToken() {
	token, record, err := flagonhttp.MintShareToken(exampleKeys, "use-new-email-service", true, 24*time.Hour, time.Now().Add(7*24*time.Hour))
	if err != nil {
		log.Fatal(err)
	}
	link := flagonhttp.ShareLink("use-new-email-service", token, "/signup")
	fmt.Println(record.Flag, record.Duration, len(link) > 0)
	// Output:
	// use-new-email-service 24h0m0s true
}
