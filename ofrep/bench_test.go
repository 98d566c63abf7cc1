package ofrep_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/ofrep"
)

// benchFlag is a realistic flag: staff get it, everyone else a 25% rollout.
func benchFlag(key string) flagon.Flag {
	return flagon.Flag{
		Key:         key,
		Rules:       []flagon.Rule{{Clauses: []flagon.Clause{{Attribute: "is_staff", Op: flagon.OpEquals, Values: []any{true}}}, Serve: flagon.Serve{Variant: "on"}}},
		Fallthrough: flagon.Serve{Split: []flagon.Split{{Variant: "on", Percent: 25}, {Variant: "off", Percent: 75}}},
		Metadata:    map[string]string{"owner": "team-a"},
	}
}

func benchHandler(b *testing.B, n int) http.Handler {
	defs := flagon.Definitions{}
	for i := range n {
		defs.Flags = append(defs.Flags, benchFlag(fmt.Sprintf("flag-%04d", i)))
	}
	client, _ := newClient(b, defs)
	return ofrep.Handler(client, &ofrep.Options{Logger: discard})
}

// serve runs one request through h; the request's body is rewound, so
// that the loop measures the handler and not the building of requests.
type serve struct {
	h    http.Handler
	r    *http.Request
	body *bytes.Reader
	raw  []byte
}

func newServe(h http.Handler, path, body string) *serve {
	s := &serve{h: h, raw: []byte(body)}
	s.body = bytes.NewReader(s.raw)
	s.r = httptest.NewRequest(http.MethodPost, path, nil)
	s.r.Body = io.NopCloser(s.body)
	s.r.Header.Set("Content-Type", "application/json")
	return s
}

func (s *serve) do() *httptest.ResponseRecorder {
	s.body.Reset(s.raw)
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, s.r)
	return w
}

// BenchmarkOFREP measures the handler in process. Targets: single ≤ 5 µs,
// bulk-1000 ≤ 500 µs, bulk-304 ≤ 2 µs per op.
func BenchmarkOFREP(b *testing.B) {
	body := `{"context":{"targetingKey":"user-1234","is_staff":false,"country":"NL","plan":"pro"}}`
	b.Run("single", func(b *testing.B) {
		s := newServe(benchHandler(b, 1000), ofrep.EvaluatePath+"/flag-0500", body)
		if w := s.do(); w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
		b.ReportAllocs()
		for b.Loop() {
			s.do()
		}
	})
	b.Run("bulk-1000", func(b *testing.B) {
		s := newServe(benchHandler(b, 1000), ofrep.EvaluatePath, body)
		if w := s.do(); w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
		b.ReportAllocs()
		for b.Loop() {
			s.do()
		}
	})
	b.Run("bulk-304", func(b *testing.B) {
		s := newServe(benchHandler(b, 1000), ofrep.EvaluatePath, body)
		w := s.do()
		s.r.Header.Set("If-None-Match", w.Header().Get("ETag"))
		if w := s.do(); w.Code != http.StatusNotModified {
			b.Fatalf("status %d, want 304", w.Code)
		}
		b.ReportAllocs()
		for b.Loop() {
			s.do()
		}
	})
}

// TestLoadSingle is a bounded load test: single evaluations over HTTP on
// 127.0.0.1, from a few concurrent clients, for at most loadRequests
// requests or loadTime, whichever comes first. It reports the rate it
// reached; it asserts only that every request succeeded.
func TestLoadSingle(t *testing.T) {
	const (
		loadRequests = 20000
		loadTime     = 3 * time.Second
		workers      = 8
	)
	if testing.Short() {
		t.Skip("load test skipped in -short mode")
	}
	defs := flagon.Definitions{}
	for i := range 100 {
		defs.Flags = append(defs.Flags, benchFlag(fmt.Sprintf("flag-%04d", i)))
	}
	client, _ := newClient(t, defs)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: ofrep.Handler(client, &ofrep.Options{Logger: discard, APIKeys: []string{"load-key"}})}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + ofrep.EvaluatePath + "/flag-0042"
	tr := &http.Transport{MaxIdleConnsPerHost: workers}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 5 * time.Second}

	ctx, cancel := context.WithTimeout(context.Background(), loadTime)
	defer cancel()
	var next, done, failed atomic.Int64
	var firstErr sync.Once
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && next.Add(1) <= loadRequests {
				body := fmt.Sprintf(`{"context":{"targetingKey":"user-%d-%d","is_staff":false}}`, w, done.Load())
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader([]byte(body)))
				req.Header.Set("X-API-Key", "load-key")
				resp, err := hc.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
						firstErr.Do(func() { t.Errorf("request: %v", err) })
					}
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					firstErr.Do(func() { t.Errorf("status %d", resp.StatusCode) })
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	t.Logf("single evaluation over HTTP on 127.0.0.1: %d requests in %v by %d clients = %.0f requests/s (%d failed)",
		done.Load(), elapsed.Round(time.Millisecond), workers, float64(done.Load())/elapsed.Seconds(), failed.Load())
}
