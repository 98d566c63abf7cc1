//go:build !unix

package ofrep_test

import "time"

// cpuTime is not measured on this system: the cpu-µs/req metric is 0.
func cpuTime() time.Duration { return 0 }
