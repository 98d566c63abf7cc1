// Command overrides is Flagon's override example: the scenario of the
// articles Flagon grew from. A home page sits behind new-home-page, which
// anyone may try with a link; the sign-up's welcome e-mail goes through
// use-new-email-service, which staff may turn on for themselves or share.
//
// Run it from the repository's root with
//
//	go run ./examples/overrides
//
// and open http://localhost:8080. The flags are in flags.yaml next to this
// file; edit it while the app runs and it reloads. Set FLAGON_COOKIE_KEYS
// (id:base64-secret, see flagonhttp.ParseKeys) to keep override cookies
// across restarts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/file"
	"github.com/flagon/flagon/flagonhttp"
)

func main() {
	addr := flag.String("addr", "localhost:8080", "address to listen on")
	flagsFile := flag.String("flags", "", "the flags' config file (default: this example's flags.yaml)")
	flag.Parse()
	log := slog.Default()
	if err := run(*addr, *flagsFile, log); err != nil {
		log.Error(err.Error())
		os.Exit(1)
	}
}

func run(addr, flagsFile string, log *slog.Logger) error {
	path, err := locate(flagsFile)
	if err != nil {
		return err
	}
	src, err := file.New(path, &file.Options{Environment: os.Getenv("FLAGON_ENV")})
	if err != nil {
		return err
	}
	defer src.Close()
	client := flagon.NewClient(src, nil)
	defer client.Close()

	var keys *flagonhttp.Keys
	if s := os.Getenv("FLAGON_COOKIE_KEYS"); s != "" {
		if keys, err = flagonhttp.ParseKeys(s); err != nil {
			return fmt.Errorf("FLAGON_COOKIE_KEYS: %w", err)
		}
	}

	srv := &http.Server{Addr: addr, Handler: newApp(client, keys, log), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	log.Info("serving the overrides example", "url", "http://"+addr, "flags", path)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// locate returns the config file to read: the one named, or flags.yaml in
// the working directory or in examples/overrides under it.
func locate(name string) (string, error) {
	if name != "" {
		return name, nil
	}
	for _, p := range []string{"flags.yaml", filepath.Join("examples", "overrides", "flags.yaml")} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("flags.yaml not found: run from the repository's root, or give -flags")
}
