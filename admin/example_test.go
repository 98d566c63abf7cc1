package admin_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/admin"
	"github.com/flagon/flagon/flagonhttp"
)

// A console mounted under /admin/ of an application, signing in with a
// shared password. Requests without a session are sent to the sign-in
// page.
func ExampleHandler() {
	src, _ := flagon.NewMemorySource(flagon.Definitions{Flags: []flagon.Flag{{Key: "new-home-page"}}}, "")
	client := flagon.NewClient(src, nil)
	httpOpts := &flagonhttp.Options{} // the same options the application's middleware gets

	auth, err := admin.NewPasswordAuth("correct horse battery", nil)
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", admin.Handler(&admin.Options{
		Client:       client,
		Overrides:    httpOpts,
		Authorize:    auth.Authorize,
		SignIn:       auth,
		ReadOnlyNote: "flags come from the config file flags.yaml; edit it and it reloads",
	})))

	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/admin/flags", nil))
	fmt.Println(w.Code, w.Header().Get("Location"))
	// Output:
	// 303 /admin/signin?next=flags
}

// Without Options.Authorize the console lets no one in, and names no
// flags to those it turns away.
func ExampleHandler_noAuthorize() {
	console := admin.Handler(&admin.Options{})
	w := httptest.NewRecorder()
	console.ServeHTTP(w, httptest.NewRequest("GET", "/flags", nil))
	fmt.Println(w.Code)
	// Output:
	// 401
}
