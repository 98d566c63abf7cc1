package flagontest_test

import (
	"testing"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
	"github.com/flagon/flagon/flagontest"
)

func TestMemoryStore(t *testing.T) {
	flagontest.TestStore(t, func(t *testing.T) flagon.Store { return flagontest.NewMemoryStore() })
	flagontest.TestAuditLog(t, func(t *testing.T) flagon.AuditLog { return flagontest.NewMemoryStore() })
	flagontest.TestUserOverrideStore(t, func(t *testing.T) flagonhttp.UserOverrideStore { return flagontest.NewMemoryStore() })
	flagontest.TestShareTokenStore(t, func(t *testing.T) flagonhttp.ShareTokenStore { return flagontest.NewMemoryStore() })
	flagontest.TestKeyStore(t, func(t *testing.T) flagonhttp.KeyStore { return flagontest.NewMemoryStore() })
	flagontest.TestUsageStore(t, func(t *testing.T) flagon.UsageStore { return flagontest.NewMemoryStore() })
	flagontest.TestUserStore(t, func(t *testing.T) flagon.UserStore { return flagontest.NewMemoryStore() })
	flagontest.TestScheduleStore(t, func(t *testing.T) flagon.ScheduleStore { return flagontest.NewMemoryStore() })
	flagontest.TestChangeRequestStore(t, func(t *testing.T) flagon.ChangeRequestStore { return flagontest.NewMemoryStore() })
}
