package blog

import (
	"context"

	"github.com/flagon/flagon"
)

func Dark(ctx context.Context) bool { return flagon.Bool(ctx, "dark-mode", false) }
