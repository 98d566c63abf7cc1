package flagon_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

func TestNotifier(t *testing.T) {
	var n flagon.Notifier
	n.Seen(3)
	got := make(chan int64, 10)
	ctx, cancel := context.WithCancel(t.Context())
	if err := n.Add(ctx, func(rev int64) { got <- rev }); err != nil {
		t.Fatal(err)
	}
	if !n.Watching() {
		t.Error("Watching = false with a watcher")
	}
	n.Notify(3) // seen already: dropped
	n.Notify(5)
	select {
	case rev := <-got:
		if rev != 5 {
			t.Errorf("told %d, want 5", rev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watcher not told")
	}
	n.Notify(4) // older than the latest: dropped
	select {
	case rev := <-got:
		t.Errorf("told %d after an older revision", rev)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for n.Watching() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n.Watching() {
		t.Error("a watcher whose context is done is still watching")
	}
	n.Close()
	if err := n.Add(t.Context(), func(int64) {}); !errors.Is(err, flagon.ErrClosed) {
		t.Errorf("Add after Close = %v, want ErrClosed", err)
	}
}
