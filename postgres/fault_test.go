package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/postgres"
)

// wait bounds every wait of these tests.
const wait = 20 * time.Second

// flagOn is a bool flag whose default is on or off.
func flagOn(key string, on bool) flagon.Flag {
	def := "off"
	if on {
		def = "on"
	}
	return flagon.Flag{Key: key, Default: def}
}

// instance is one application instance: a Store, a StoreSource on it and
// a Client on that.
type instance struct {
	store  *postgres.Store
	src    *flagon.StoreSource
	client *flagon.Client
}

// newInstance starts an instance on dsn. Its source polls only hourly, so
// that what it sees, it saw through a notification (or a reconnection's
// catch-up), not a poll.
func (db *testDB) newInstance(t testing.TB, dsn string) *instance {
	t.Helper()
	s := db.openDSN(t, dsn)
	src, err := flagon.NewStoreSource(context.Background(), s, &flagon.StoreSourceOptions{
		PollInterval:  time.Hour,
		RetryInterval: 10 * time.Millisecond,
		Logger:        discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return &instance{store: s, src: src, client: flagon.NewClient(src, &flagon.Options{Logger: discard})}
}

// waitFlag waits until in's source serves the flag with the given value.
func waitFlag(t testing.TB, in *instance, key string, on bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, err := flagon.WaitFor(ctx, in.src, func(s *flagon.Snapshot) bool {
		r := s.Evaluate(key, flagon.EvalContext{}, nil)
		return r.Err() == nil && r.Value == on
	})
	if err != nil {
		t.Fatalf("instance did not see %s = %v within %v (status %+v)", key, on, wait, in.src.Status())
	}
}

// waitCond polls cond, which watches work in the background, until it
// holds or the wait runs out.
func waitCond(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func put(t testing.TB, s flagon.Store, f flagon.Flag) int64 {
	t.Helper()
	ctx := context.Background()
	cur, err := s.Flag(ctx, f.Key)
	if err != nil && !errors.Is(err, flagon.ErrNotFound) {
		t.Fatal(err)
	}
	v, err := s.PutFlag(ctx, f, cur.Version, flagon.Change{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestThreeInstances(t *testing.T) {
	db := newTestDB(t)
	ins := []*instance{db.newInstance(t, db.dsn), db.newInstance(t, db.dsn), db.newInstance(t, db.dsn)}
	for round, on := range []bool{true, false, true} {
		writer := ins[round%3]
		put(t, writer.store, flagOn("new-home", on))
		for i, in := range ins {
			if in != writer {
				t.Logf("round %d: waiting for instance %d", round, i)
				waitFlag(t, in, "new-home", on)
			}
		}
	}
}

// listeners counts the test's connections that are listening.
func (db *testDB) listeners(t testing.TB) int64 {
	return db.admin(t, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, db.name+postgres.ListenSuffix)
}

// terminate kills every backend of the test's connections, pool and
// listeners alike, and returns how many it killed.
func (db *testDB) terminate(t testing.TB) int64 {
	return db.admin(t, `SELECT count(*) FROM (
		SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name IN ($1, $2) AND pid <> pg_backend_pid()) AS killed`, db.name, db.name+postgres.ListenSuffix)
}

func TestTerminatedConnectionsRecover(t *testing.T) {
	db := newTestDB(t)
	ins := []*instance{db.newInstance(t, db.dsn), db.newInstance(t, db.dsn), db.newInstance(t, db.dsn)}
	put(t, ins[0].store, flagOn("new-home", true))
	waitFlag(t, ins[1], "new-home", true)
	waitFlag(t, ins[2], "new-home", true)
	for round, on := range []bool{false, true} {
		waitCond(t, "all three instances listen", func() bool { return db.listeners(t) == 3 })
		if n := db.terminate(t); n < 3 {
			t.Fatalf("round %d: terminated %d backends, want at least the 3 listeners", round, n)
		}
		// The write finds its pool's connections dead, and retries on
		// new ones; the listeners reconnect and catch up by themselves.
		put(t, ins[0].store, flagOn("new-home", on))
		waitFlag(t, ins[1], "new-home", on)
		waitFlag(t, ins[2], "new-home", on)
		for i, in := range ins {
			if st := in.src.Status(); st.Stale {
				// A load that met a dead connection may have failed;
				// the source retries by itself.
				waitCond(t, fmt.Sprintf("instance %d is fresh", i), func() bool { return !in.src.Status().Stale })
			}
		}
	}
	waitCond(t, "the listeners are back", func() bool { return db.listeners(t) == 3 })
}

// proxy forwards TCP connections from a local port to the database, and
// can play an unreachable database: down closes every connection and
// refuses new ones; up accepts them again on the same port.
type proxy struct {
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func startProxy(t testing.TB, target string) *proxy {
	t.Helper()
	p := &proxy{target: target, conns: make(map[net.Conn]bool)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() {
		p.down()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			p.wg.Add(2)
			go p.pipe(c, up)
			go p.pipe(up, c)
		}
	}()
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	io.Copy(dst, src)
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
}

func (p *proxy) up(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("reopen the proxy on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

func TestUnreachableDatabase(t *testing.T) {
	db := newTestDB(t)
	u, err := url.Parse(db.dsn)
	if err != nil || u.Scheme == "" {
		t.Skip("the proxy test needs a URL DSN")
	}
	p := startProxy(t, u.Host)
	u.Host = p.addr
	q := u.Query()
	q.Set("connect_timeout", "5")
	u.RawQuery = q.Encode()
	s := db.openDSN(t, u.String())
	src, err := flagon.NewStoreSource(context.Background(), s, &flagon.StoreSourceOptions{
		PollInterval:  50 * time.Millisecond, // stands for /healthz's patience
		RetryInterval: 10 * time.Millisecond,
		Logger:        discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	in := &instance{store: s, src: src, client: flagon.NewClient(src, &flagon.Options{Logger: discard})}
	put(t, s, flagOn("new-home", true))
	waitFlag(t, in, "new-home", true)
	good := time.Now()

	p.down()
	ctx := context.Background()
	_, err = s.PutFlag(ctx, flagOn("new-home", false), 1, flagon.Change{Actor: "test"})
	if err == nil || !strings.Contains(err.Error(), `postgres: put flag "new-home"`) {
		t.Fatalf("write while the database is unreachable: %v, want an error naming the store and the write", err)
	}
	t.Logf("write while unreachable: %v", err)
	waitCond(t, "the source reports stale", func() bool { return src.Status().Stale })
	st := src.Status()
	if st.Err == nil || st.Since.After(good) {
		t.Errorf("stale status = %+v, want the error and the time of the last good read (before %v)", st, good)
	}
	if age := time.Since(st.Since); age <= 0 {
		t.Errorf("stale age = %v", age)
	}
	if !in.client.Bool(ctx, "new-home", false) {
		t.Error("a stale source stopped serving its last snapshot")
	}

	p.up(t)
	waitCond(t, "the source recovers", func() bool { return !src.Status().Stale })
	// The pool's connections died with the proxy; the write retries on
	// new ones.
	if _, err := s.PutFlag(ctx, flagOn("new-home", false), 1, flagon.Change{Actor: "test"}); err != nil {
		t.Fatalf("write after the database came back: %v", err)
	}
	waitFlag(t, in, "new-home", false)
}

func TestConcurrentWritesAndEvaluations(t *testing.T) {
	db := newTestDB(t)
	ins := []*instance{db.newInstance(t, db.dsn), db.newInstance(t, db.dsn), db.newInstance(t, db.dsn)}
	const writersPerInstance, writesPerWriter, evaluators = 2, 15, 2
	put(t, ins[0].store, flagOn("shared", false))
	for _, in := range ins {
		waitFlag(t, in, "shared", false)
	}
	var (
		wg        sync.WaitGroup
		succeeded atomic.Int64
		conflicts atomic.Int64
		evals     atomic.Int64
		stop      = make(chan struct{})
		errs      = make(chan error, 100)
	)
	for i, in := range ins {
		for w := range writersPerInstance {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := context.Background()
				own := fmt.Sprintf("flag-%d-%d", i, w)
				var ownVersion int64
				for n := range writesPerWriter {
					// A flag of its own: never a conflict.
					v, err := in.store.PutFlag(ctx, flagOn(own, n%2 == 0), ownVersion, flagon.Change{Actor: own})
					if err != nil {
						errs <- err
						return
					}
					ownVersion = v
					succeeded.Add(1)
					// The shared flag: read, write, and maybe lose.
					cur, err := in.store.Flag(ctx, "shared")
					if err != nil {
						errs <- err
						return
					}
					_, err = in.store.PutFlag(ctx, flagOn("shared", n%2 == 1), cur.Version, flagon.Change{Actor: own})
					switch {
					case err == nil:
						succeeded.Add(1)
					case errors.Is(err, flagon.ErrConflict):
						conflicts.Add(1)
					default:
						errs <- err
						return
					}
				}
			}()
		}
	}
	// Evaluators read a burst at each snapshot swap, so that evaluations
	// race the swaps without starving the writers of CPU.
	var evalWG sync.WaitGroup
	for e := range evaluators {
		in := ins[e%len(ins)]
		swapped := make(chan struct{}, 1)
		unsubscribe := in.src.Subscribe(func(*flagon.Snapshot) {
			select {
			case swapped <- struct{}{}:
			default:
			}
		})
		evalWG.Add(1)
		go func() {
			defer evalWG.Done()
			defer unsubscribe()
			ctx := flagon.WithEvalContext(context.Background(), flagon.EvalContext{Key: "user-" + strconv.Itoa(e)})
			for {
				for range 1000 {
					if _, r := in.client.BoolDetail(ctx, "shared", false); r.Err() != nil {
						errs <- fmt.Errorf("evaluation: %w", r.Err())
						return
					}
					evals.Add(1)
				}
				select {
				case <-stop:
					return
				case <-swapped:
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	evalWG.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	want := 1 + succeeded.Load() // the setup write, and every write that succeeded
	ctx := context.Background()
	entries, err := ins[1].store.Audit(ctx, flagon.AuditQuery{Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	rev, err := ins[2].store.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(entries)) != want || rev != want {
		t.Errorf("%d writes succeeded (%d conflicts), but %d audit entries and revision %d; want %d of each",
			want, conflicts.Load(), len(entries), rev, want)
	}
	seen := make(map[int64]bool)
	for _, e := range entries {
		if seen[e.Revision] {
			t.Errorf("revision %d has two audit entries", e.Revision)
		}
		seen[e.Revision] = true
	}
	// Every instance ends on the last revision.
	for i, in := range ins {
		waitCond(t, fmt.Sprintf("instance %d reads revision %d", i, rev), func() bool { return in.src.Stats().Revision == rev })
	}
	t.Logf("%d writes, %d conflicts, %d evaluations", want, conflicts.Load(), evals.Load())
}
