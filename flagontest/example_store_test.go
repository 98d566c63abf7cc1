package flagontest_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagontest"
)

// A MemoryStore behaves as the database stores do: versions, audit
// entries, and a StoreSource that follows its writes.
func ExampleNewMemoryStore() {
	ctx := context.Background()
	store := flagontest.NewMemoryStore()
	defer store.Close()
	change := flagon.Change{Actor: "ann", Reason: "launch"}

	v, _ := store.PutFlag(ctx, flagon.Flag{Key: "new-home", Default: "off"}, 0, change)
	src, err := flagon.NewStoreSource(ctx, store, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close()
	client := flagon.NewClient(src, &flagon.Options{Logger: slog.New(slog.DiscardHandler)})
	fmt.Println("before:", client.Bool(ctx, "new-home", false))

	v, _ = store.PutFlag(ctx, flagon.Flag{Key: "new-home", Default: "on"}, v, change)
	flagon.WaitFor(ctx, src, func(s *flagon.Snapshot) bool { return s.Revision() == "2" })
	fmt.Println("after: ", src.Snapshot().Evaluate("new-home", flagon.EvalContext{}, nil).Value, "at version", v)

	_, err = store.PutFlag(ctx, flagon.Flag{Key: "new-home"}, 1, flagon.Change{Actor: "bob"})
	fmt.Println(err)

	entries, _ := store.Audit(ctx, flagon.AuditQuery{Target: "new-home"})
	for _, e := range entries {
		fmt.Println(e.Revision, e.Action, e.Actor)
	}
	// Output:
	// before: false
	// after:  true at version 2
	// memory store: put flag "new-home": conflict: revision changed since read: version 1 given, flag "new-home" is at version 2
	// 2 flag.update ann
	// 1 flag.create ann
}
