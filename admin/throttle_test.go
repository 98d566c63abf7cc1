package admin

import (
	"fmt"
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	th := newThrottle()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range freeFailures {
		if d := th.wait("admin", "10.0.0.1", now); d != 0 {
			t.Fatalf("after %d failures: wait %v, want none", i, d)
		}
		th.fail("admin", "10.0.0.1", now)
	}
	// The next failure locks, and each after it doubles the wait.
	want := firstLock
	for i := 0; i < 6; i++ {
		th.fail("admin", "10.0.0.1", now)
		if d := th.wait("admin", "10.0.0.1", now); d != want {
			t.Errorf("failure %d: wait %v, want %v", freeFailures+i+1, d, want)
		}
		want *= 2
	}
	// The account is locked for another client too; another account is
	// not locked for a fresh client.
	if d := th.wait("admin", "10.0.0.2", now); d == 0 {
		t.Error("a locked account is not locked for another client")
	}
	if d := th.wait("lee", "10.0.0.2", now); d != 0 {
		t.Errorf("an unrelated account and client wait %v", d)
	}
	// Once the wait is over, a sign-in may go ahead; a success clears.
	later := now.Add(time.Hour)
	if d := th.wait("admin", "10.0.0.1", later); d != 0 {
		t.Errorf("after the lock: wait %v, want none", d)
	}
	th.succeed("admin", "10.0.0.1")
	th.fail("admin", "10.0.0.1", later)
	if d := th.wait("admin", "10.0.0.1", later); d != 0 {
		t.Errorf("one failure after a success: wait %v, want none", d)
	}
	// The wait is capped.
	for range 40 {
		th.fail("x", "y", now)
	}
	if d := th.wait("x", "y", now); d != maxLock {
		t.Errorf("after 40 failures: wait %v, want the cap %v", d, maxLock)
	}
}

func TestThrottleBounded(t *testing.T) {
	th := newThrottle()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// A locked account stays locked while a flood of addresses comes
	// and goes: no global reset.
	for range freeFailures + 3 {
		th.fail("admin", "attacker", now)
	}
	for i := range 3 * maxThrottled {
		th.fail("admin", fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), now)
		if i%1000 == 0 && th.size() > maxThrottled {
			t.Fatalf("%d remembered, want at most %d", th.size(), maxThrottled)
		}
	}
	if th.size() > maxThrottled {
		t.Errorf("%d remembered, want at most %d", th.size(), maxThrottled)
	}
	if d := th.wait("admin", "somebody", now); d == 0 {
		t.Error("the flood unlocked the account")
	}
}
