package sqlite_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/sqlite"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "flagon")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	// Open creates the file and its tables; sqlite.DefaultPath is the
	// usual name.
	store, err := sqlite.Open(ctx, filepath.Join(dir, sqlite.DefaultPath))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	_, err = store.PutFlag(ctx, flagon.Flag{Key: "new-home", Default: "on"}, 0,
		flagon.Change{Actor: "ann", Reason: "launch"})
	if err != nil {
		log.Fatal(err)
	}

	src, err := flagon.NewStoreSource(ctx, store, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	client := flagon.NewClient(src, &flagon.Options{Logger: slog.New(slog.DiscardHandler)})
	fmt.Println(client.Bool(ctx, "new-home", false), src.Snapshot().Revision())
	// Output: true 1
}
