package remote_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/remote"
)

func ExampleNew() {
	// The server: a Flagon server mounts remote.Handler over its source.
	serverSrc, _ := flagon.NewMemorySource(flagon.Definitions{Flags: []flagon.Flag{
		{Key: "new-home-page", Default: "on"},
	}}, "production")
	mux := http.NewServeMux()
	h := remote.Handler(serverSrc)
	mux.Handle(remote.SnapshotPath, h)
	mux.Handle(remote.EventsPath, h)
	server := httptest.NewServer(mux)
	defer server.Close()

	// An application follows it.
	src, err := remote.New(context.Background(), server.URL, &remote.Options{Stream: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close()
	client := flagon.NewClient(src, &flagon.Options{Logger: quiet})
	fmt.Println(client.Bool(context.Background(), "new-home-page", false), src.Snapshot().Environment())
	// Output:
	// true production
}
