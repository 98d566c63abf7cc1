// Command quickstart is the README's quick start: flags from a YAML file, a
// typed handle, the middleware, and the override link.
//
//	go run ./examples/quickstart
//	open http://127.0.0.1:8081/?staff=1   or   /features/new-home-page?enable=true&redirect_url=/
package main

import (
	"fmt"
	"log"
	"net/http"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/file"
	"github.com/flagon/flagon/flagonhttp"
)

var NewHomePage = flagon.NewBool("new-home-page", false, "Expose the new home page")

func main() {
	src, err := file.New("examples/quickstart/flags.yaml", nil) // watches the file; FLAGON_ENV picks the environment
	if err != nil {
		log.Fatal(err)
	}
	client := flagon.NewClient(src, nil)
	flagon.SetDefault(client) // typed handles read the default client

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if NewHomePage.Enabled(r.Context()) {
			fmt.Fprintln(w, "the new home page")
		} else {
			fmt.Fprintln(w, "the old home page")
		}
	})
	opts := &flagonhttp.Options{Context: func(r *http.Request) flagon.EvalContext {
		return flagon.EvalContext{Key: r.RemoteAddr, Attrs: map[string]any{"is_staff": r.URL.Query().Has("staff")}}
	}}
	flagonhttp.Mount(mux, client, opts) // /features/{name} and /features.json
	log.Fatal(http.ListenAndServe("127.0.0.1:8081", flagonhttp.Middleware(client, opts)(mux)))
}
