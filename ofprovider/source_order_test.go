package ofprovider

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/memprovider"
)

// chanProvider is a vendor whose events the test sends.
type chanProvider struct {
	*memprovider.InMemoryProvider
	ch chan openfeature.Event
}

func (p *chanProvider) EventChannel() <-chan openfeature.Event { return p.ch }

// TestLateHandlers runs the handler of an earlier event after that of a
// later one, as the SDK may (it starts each handler on a goroutine of its
// own): the source follows the latest event, not the last handler to run.
func TestLateHandlers(t *testing.T) {
	vendor := &chanProvider{InMemoryProvider: memprovider.NewInMemoryProvider(nil), ch: make(chan openfeature.Event, 4)}
	defs := flagon.Definitions{Flags: []flagon.Flag{{Key: "a"}}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	src, err := NewSource(ctx, vendor, defs, &SourceOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()

	// waitStale waits, for at most 10 s, until the handler of the event
	// just sent has made src's staleness want.
	waitStale := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for src.Status().Stale != want {
			if time.Now().After(deadline) {
				t.Fatalf("Stale is not %v after 10 s", want)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	send := func(et openfeature.EventType, msg string) {
		vendor.ch <- openfeature.Event{EventType: et, ProviderEventDetails: openfeature.ProviderEventDetails{Message: msg}}
	}

	send(openfeature.ProviderStale, "lost the connection")
	waitStale(true)
	src.vendorStatus(openfeature.ProviderReady, "Provider initialization successful") // initialization's READY, late
	if st := src.Status(); !st.Stale || !strings.Contains(st.Err.Error(), "lost the connection") {
		t.Errorf("after a late READY: %+v, want still stale", st)
	}
	if err := src.SetDefinitions(flagon.Definitions{Flags: []flagon.Flag{{Key: "b"}}}); err != nil {
		t.Fatal(err)
	}
	if !src.Status().Stale {
		t.Errorf("new definitions made a stale vendor fresh")
	}

	send(openfeature.ProviderReady, "")
	waitStale(false)
	src.vendorStatus(openfeature.ProviderStale, "lost the connection") // the STALE above, late
	src.vendorStatus(openfeature.ProviderError, "bad key")             // an ERROR before it, late
	if st := src.Status(); st.Stale {
		t.Errorf("after a late STALE and ERROR: stale (%v), want fresh", st.Err)
	}
}
