package flagontest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
	"github.com/flagon/flagon/flagontest"
)

// checkoutPage is the code under test: it reads two flags.
func checkoutPage(c *flagon.Client) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.Bool(r.Context(), "new-home-page", false) {
			fmt.Fprint(w, "new page, ")
		}
		fmt.Fprint(w, c.String(r.Context(), "checkout", "classic"), " checkout")
	})
}

func ExampleNew() {
	t := new(testing.T) // in a test, the *testing.T it receives

	kit := flagontest.New(t, flagontest.Flags{"new-home-page": true, "checkout": "express"})
	ctx := flagon.WithEvalContext(context.Background(), flagon.EvalContext{Key: "user-1", Attrs: map[string]any{"plan": "pro"}})
	fmt.Println(kit.Client.Bool(ctx, "new-home-page", false), kit.Client.String(ctx, "checkout", "classic"))

	// Which flags were read, with which context:
	for _, e := range kit.Evaluations() {
		fmt.Println(e.Key, e.Context.Key, e.Context.Attrs["plan"], e.Result.Value)
	}
	fmt.Println(kit.Read("checkout"), kit.Read("dark-mode"))

	// Change a flag mid-test:
	kit.Set("checkout", "one-click")
	fmt.Println(kit.Client.String(ctx, "checkout", "classic"))
	// Output:
	// true express
	// new-home-page user-1 pro true
	// checkout user-1 pro express
	// true false
	// one-click
}

func ExampleOverrideCookie() {
	t := new(testing.T) // in a test, the *testing.T it receives

	kit := flagontest.New(t, flagontest.Flags{"new-home-page": false, "checkout": "classic"})
	opts := &flagonhttp.Options{} // the options the application's middleware uses
	app := flagonhttp.Middleware(kit.Client, opts)(checkoutPage(kit.Client))

	r := httptest.NewRequest("GET", "/checkout", nil)
	r.AddCookie(flagontest.OverrideCookie(t, opts, map[string]any{"new-home-page": true, "checkout": "express"}))
	w := httptest.NewRecorder()
	app.ServeHTTP(w, r)
	fmt.Println(w.Body)
	// Output:
	// new page, express checkout
}
