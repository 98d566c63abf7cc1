// Command quickstart is the README's quick start: flags from a YAML file, a
// typed handle, the middleware, and the override link.
//
//	go run ./examples/quickstart
//	curl -L -c jar -b jar '127.0.0.1:8081/features/new-home-page?enable=true&redirect_url=/'
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

func app(flagsFile string) (http.Handler, error) {
	src, err := file.New(flagsFile, nil) // reloads on change; FLAGON_ENV picks the environment
	if err != nil {
		return nil, err
	}
	client := flagon.NewClient(src, nil)
	flagon.SetDefault(client)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if NewHomePage.Enabled(r.Context()) {
			fmt.Fprintln(w, "the new home page")
		} else {
			fmt.Fprintln(w, "the old home page")
		}
	})
	opts := &flagonhttp.Options{Context: userContext}
	flagonhttp.Mount(mux, client, opts) // /features/{name} override links, /features.json
	return flagonhttp.Middleware(client, opts)(mux), nil
}

// userContext says who a request is for: a real app reads its session.
func userContext(r *http.Request) flagon.EvalContext {
	return flagon.EvalContext{Key: r.URL.Query().Get("user"), Attrs: map[string]any{"is_staff": r.URL.Query().Has("staff")}}
}

func main() {
	h, err := app("examples/quickstart/flags.yaml")
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe("127.0.0.1:8081", h))
}
