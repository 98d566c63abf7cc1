package flagontest_test

import (
	"testing"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagontest"
)

func TestMemoryStore(t *testing.T) {
	flagontest.TestStore(t, func(t *testing.T) flagon.Store { return flagontest.NewMemoryStore() })
}
