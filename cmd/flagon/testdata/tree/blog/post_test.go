package blog

import (
	"context"
	"testing"

	"github.com/flagon/flagon"
)

func TestDark(t *testing.T) {
	_ = flagon.Bool(context.Background(), "another-test-flag", false)
}
