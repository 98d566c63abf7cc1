// Command quickstart is the README's quick start: flags from a YAML file, a
// typed handle, the middleware, and the override link. Run it from the
// repository's root or from its own folder:
//
//	go run ./examples/quickstart     # or: cd examples/quickstart && go run .
//
// It prints the URL to open. Flags: -addr (default 127.0.0.1:8081), -flags
// (default: flags.yaml in the working directory, else this example's), and
// -env (default $FLAGON_ENV), the environment whose settings apply.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/file"
	"github.com/flagon/flagon/flagonhttp"
)

// NewHomePage is the flag the quick start serves: declared once, with its
// default, and checked against the flags file when the client loads it.
var NewHomePage = flagon.NewBool("new-home-page", false, "Expose the new home page")

func app(flagsFile, env string) (http.Handler, error) {
	src, err := file.New(flagsFile, &file.Options{Environment: env}) // reloads on change
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

// exampleDir is this example's folder, relative to the repository's root.
var exampleDir = filepath.Join("examples", "quickstart")

// findFlags returns the config file to read: name if given, else
// flags.yaml in the working directory, else this example's flags.yaml
// seen from the repository's root.
func findFlags(name string) (string, error) {
	if name != "" {
		return name, nil
	}
	for _, p := range []string{"flags.yaml", filepath.Join(exampleDir, "flags.yaml")} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("flags.yaml not found: run from the repository's root or from " + exampleDir + ", or give -flags")
}

// announce tells the user where the app listens and what to try.
func announce(w io.Writer, addr net.Addr, flagsFile, env string) {
	where := "no environment"
	if env != "" {
		where = "environment " + env
	}
	u := "http://" + addr.String()
	fmt.Fprintf(w, "quickstart: serving %s/ (flags from %s, %s)\n", u, flagsFile, where)
	fmt.Fprintf(w, "  as staff:         %s/?user=ann&staff\n", u)
	fmt.Fprintf(w, "  as a visitor:     %s/?user=user-1\n", u)
	fmt.Fprintf(w, "  try the new page: %s/features/new-home-page?enable=true&redirect_url=/%%3Fuser%%3Duser-1\n", u)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "address to listen on")
	flagsFile := flag.String("flags", "", "the flags' config file (default: flags.yaml here, else "+filepath.Join(exampleDir, "flags.yaml")+")")
	env := flag.String("env", os.Getenv("FLAGON_ENV"), "the environment whose settings apply (default $FLAGON_ENV)")
	flag.Parse()

	path, err := findFlags(*flagsFile)
	if err != nil {
		log.Fatal(err)
	}
	h, err := app(path, *env)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	announce(os.Stdout, ln.Addr(), path, *env)
	log.Fatal(http.Serve(ln, h))
}
