package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/remote"
)

// percentile returns the p-th percentile (0 to 100) of sorted d, in ms.
func percentile(d []time.Duration, p int) float64 {
	if len(d) == 0 {
		return 0
	}
	i := min(len(d)-1, len(d)*p/100)
	return float64(d[i]) / float64(time.Millisecond)
}

// BenchmarkRelayPropagation measures how long a write through the
// primary's REST API takes to reach a relay, and a relay chained off it:
// from before the PUT to the relay's new snapshot (the one OFREP
// answers from). The floor is the same write reaching the primary's own
// snapshot; relay-p99-ms is the goal (≤ 100 ms).
func BenchmarkRelayPropagation(b *testing.B) {
	srv, primary := newPrimary(b)
	version := putValue(b, primary.URL, "banner", "start", 0)
	r1, ts1 := newRelay(b, primary.URL, readerToken, nil)
	r2, _ := newRelay(b, ts1.URL, relayToken, nil)
	wp, w1, w2 := newWaiter(srv.Source()), newWaiter(r1.Source()), newWaiter(r2.Source())
	w2.wait(b, "chained relay", "banner", "start")
	var floor, hop1, hop2 []time.Duration
	b.ResetTimer()
	for i := range b.N {
		want := "v" + strconv.Itoa(i)
		start := time.Now()
		version = putValue(b, primary.URL, "banner", want, version)
		wp.wait(b, "primary", "banner", want)
		floor = append(floor, time.Since(start))
		w1.wait(b, "relay", "banner", want)
		hop1 = append(hop1, time.Since(start))
		w2.wait(b, "chained relay", "banner", want)
		hop2 = append(hop2, time.Since(start))
	}
	b.StopTimer()
	for _, d := range [][]time.Duration{floor, hop1, hop2} {
		slices.Sort(d)
	}
	b.ReportMetric(percentile(floor, 50), "primary-p50-ms")
	b.ReportMetric(percentile(floor, 99), "primary-p99-ms")
	b.ReportMetric(percentile(hop1, 50), "p50-ms")
	b.ReportMetric(percentile(hop1, 99), "p99-ms")
	b.ReportMetric(percentile(hop2, 50), "chained-p50-ms")
	b.ReportMetric(percentile(hop2, 99), "chained-p99-ms")
	b.ReportMetric(percentile(hop1, 50)/max(percentile(floor, 50), 1e-9), "p50/floor")
}

// Subscriber load: the benchmark runs the subscribers in a child process
// (this test binary, in TestSubscriberProcess), so that the relay's heap
// is measured alone.
const (
	envSubURL   = "FLAGON_TEST_SUBSCRIBE_URL"
	envSubN     = "FLAGON_TEST_SUBSCRIBERS"
	envSubToken = "FLAGON_TEST_SUBSCRIBE_TOKEN"
	// defaultSubscribers is how many streams BenchmarkRelaySubscribers
	// holds; FLAGON_TEST_SUBSCRIBERS changes it.
	defaultSubscribers = 5000
)

// raiseFileLimit raises the soft limit on open files to n, or as far as
// the hard limit allows, and returns the limit.
func raiseFileLimit(n uint64) uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	if lim.Cur < n {
		lim.Cur = min(n, lim.Max)
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	return lim.Cur
}

// BenchmarkRelaySubscribers holds defaultSubscribers event streams
// (/api/v1/snapshot/events) open on one relay and, per iteration, writes
// a change to the primary and waits until every stream has announced it.
// It reports the relay process's heap and goroutine stacks per
// subscriber (the subscribers run in a child process, so they are not
// counted), the time from the write to the last stream (all-ms), and from
// the relay's new snapshot to the last stream (fanout-ms). Run it with
// -benchtime=Nx: each run connects the subscribers again.
func BenchmarkRelaySubscribers(b *testing.B) {
	n := defaultSubscribers
	if s := os.Getenv(envSubN); s != "" {
		n, _ = strconv.Atoi(s)
	}
	if lim := raiseFileLimit(uint64(n) + 1000); lim < uint64(n)+100 {
		n = int(lim) - 100
		b.Logf("open files limited to %d: holding %d subscribers", lim, n)
	}
	srv, primary := newPrimary(b)
	version := putValue(b, primary.URL, "banner", "start", 0)
	r, relay := newRelay(b, primary.URL, readerToken, nil)
	newWaiter(srv.Source()).wait(b, "primary", "banner", "start")
	newWaiter(r.Source()).wait(b, "relay", "banner", "start")
	var mu sync.Mutex
	published := map[string]time.Time{} // revision -> when the relay published it
	defer r.Source().Subscribe(func(s *flagon.Snapshot) {
		mu.Lock()
		published[s.Revision()] = time.Now()
		mu.Unlock()
	})()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	goroutines := runtime.NumGoroutine()

	cmd := exec.Command(os.Args[0], "-test.run=^TestSubscriberProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envSubURL+"="+relay.URL+remote.EventsPath, envSubN+"="+strconv.Itoa(n), envSubToken+"="+relayToken)
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		stdin.Close() // the child exits when its standard input closes
		cmd.Wait()
	}()
	lines := bufio.NewScanner(stdout)
	// next returns the next revision every subscriber has seen, and when.
	next := func() (string, time.Time) {
		for lines.Scan() {
			f := strings.Fields(lines.Text())
			if len(f) == 3 && f[0] == "all" {
				ns, _ := strconv.ParseInt(f[2], 10, 64)
				return f[1], time.Unix(0, ns)
			}
		}
		b.Fatalf("subscriber process ended: %v", lines.Err())
		return "", time.Time{}
	}
	next() // every subscriber has the current revision
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
	stack := float64(int64(after.StackInuse)-int64(before.StackInuse)) / float64(n)
	perSub := float64(runtime.NumGoroutine()-goroutines) / float64(n)

	var all, fanout []time.Duration
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		version = putValue(b, primary.URL, "banner", "v"+strconv.Itoa(i), version)
		rev, at := next()
		all = append(all, at.Sub(start))
		mu.Lock()
		if p, ok := published[rev]; ok {
			fanout = append(fanout, at.Sub(p))
		}
		mu.Unlock()
	}
	b.StopTimer()
	slices.Sort(all)
	slices.Sort(fanout)
	b.ReportMetric(percentile(all, 50), "all-ms")
	b.ReportMetric(percentile(fanout, 50), "fanout-ms")
	// After ResetTimer, which drops metrics reported before it.
	b.ReportMetric(heap, "heap-B/sub")
	b.ReportMetric(stack, "stack-B/sub")
	b.ReportMetric(perSub, "goroutines/sub")
	b.ReportMetric(float64(n), "subscribers")
}

// TestSubscriberProcess is the child process of BenchmarkRelaySubscribers:
// it opens FLAGON_TEST_SUBSCRIBERS event streams at
// FLAGON_TEST_SUBSCRIBE_URL and prints "all <revision> <unix ns>" when the
// last of them has announced a revision, until its standard input closes.
// Run alone, it does nothing.
func TestSubscriberProcess(t *testing.T) {
	target := os.Getenv(envSubURL)
	if target == "" {
		t.Skip("the child process of BenchmarkRelaySubscribers")
	}
	n, _ := strconv.Atoi(os.Getenv(envSubN))
	raiseFileLimit(uint64(n) + 1000)
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	request := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host +
		"\r\nAccept: text/event-stream\r\nAuthorization: Bearer " + os.Getenv(envSubToken) + "\r\n\r\n"
	var mu sync.Mutex
	seen := map[string]int{}
	var out sync.Mutex
	sem := make(chan struct{}, 100) // connections being opened at once
	for range n {
		sem <- struct{}{}
		var c net.Conn
		for try := 0; ; try++ {
			if c, err = net.Dial("tcp", u.Host); err == nil {
				break
			}
			if try == 50 {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		go func() {
			defer c.Close()
			_, err := io.WriteString(c, request)
			<-sem
			if err != nil {
				return
			}
			r := bufio.NewReaderSize(c, 512)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				rev, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "id: ")
				if !ok {
					continue
				}
				mu.Lock()
				seen[rev]++
				last := seen[rev] == n
				mu.Unlock()
				if last {
					at := time.Now().UnixNano()
					out.Lock()
					fmt.Printf("all %s %d\n", rev, at)
					out.Unlock()
				}
			}
		}()
	}
	io.Copy(io.Discard, os.Stdin)
}
