package ofrep_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/ofrep"
)

// TestEncodersAgree checks that the two response encoders write the same
// JSON values.
func TestEncodersAgree(t *testing.T) {
	client, _ := newClient(t, testDefs())
	ov := flagon.OverrideMap{"new-home-page": {Value: true, Source: "cookie"}}
	h := ofrep.Handler(client, &ofrep.Options{Logger: discard, InactivityDelay: 90e9, Overrides: func(*http.Request) flagon.Overrides { return ov }})
	body := `{"context":{"targetingKey":"u1","is_staff":true}}`
	paths := []string{ofrep.EvaluatePath}
	for _, f := range testDefs().Flags {
		paths = append(paths, ofrep.EvaluatePath+"/"+f.Key)
	}
	paths = append(paths, ofrep.EvaluatePath+"/no-such-flag")
	for _, p := range paths {
		var got [2]any
		for i, std := range []bool{false, true} {
			ofrep.SetStdJSON(h, std)
			w := post(h, p, body)
			if err := json.Unmarshal(w.Body.Bytes(), &got[i]); err != nil {
				t.Fatalf("%s (std %v): %v: %s", p, std, err, w.Body)
			}
		}
		if !reflect.DeepEqual(got[0], got[1]) {
			t.Errorf("%s:\nby hand       %v\nencoding/json %v", p, got[0], got[1])
		}
	}
}

// BenchmarkOFREPServer measures what users feel: requests per second of
// the real handler over loopback HTTP, driven by parallel clients, with
// the hand-written encoder and with encoding/json, in the same run. It
// also reports the process's CPU time per request (server and clients,
// user + system), which a shared machine disturbs far less than the wall
// time: on a saturated server, requests per second are the cores divided
// by it.
//
//	go test -run '^$' -bench BenchmarkOFREPServer -benchtime 3s -count 3 ./ofrep/
func BenchmarkOFREPServer(b *testing.B) {
	defs := flagon.Definitions{}
	for i := range 100 {
		defs.Flags = append(defs.Flags, benchFlag(fmt.Sprintf("flag-%04d", i)))
	}
	client, _ := newClient(b, defs)
	for _, path := range []string{"single", "bulk-100"} {
		for _, enc := range []string{"hand", "encoding-json"} {
			b.Run(path+"/"+enc, func(b *testing.B) {
				h := ofrep.Handler(client, &ofrep.Options{Logger: discard})
				ofrep.SetStdJSON(h, enc == "encoding-json")
				srv := httptest.NewServer(h)
				defer srv.Close()
				url := srv.URL + ofrep.EvaluatePath
				if path == "single" {
					url += "/flag-0042"
				}
				tr := &http.Transport{MaxIdleConnsPerHost: 64}
				defer tr.CloseIdleConnections()
				hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
				var n atomic.Int64
				var failOnce sync.Once
				b.SetParallelism(4) // 4 clients per core
				b.ReportAllocs()
				b.ResetTimer()
				start, cpu0 := time.Now(), cpuTime()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						body := fmt.Sprintf(`{"context":{"targetingKey":"user-%d","is_staff":false}}`, n.Add(1))
						resp, err := hc.Post(url, "application/json", bytes.NewReader([]byte(body)))
						if err != nil {
							failOnce.Do(func() { b.Error(err) })
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 {
							failOnce.Do(func() { b.Errorf("status %d", resp.StatusCode) })
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
				b.ReportMetric(float64((cpuTime()-cpu0)/time.Microsecond)/float64(b.N), "cpu-µs/req")
			})
		}
	}
}
