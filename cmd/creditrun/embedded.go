package main

import (
	"context"

	"github.com/alicebob/miniredis/v2"

	"github.com/creditrun/creditrun/internal/embedredis"
)

// embeddedRedis runs miniredis in the process for `creditrun dev`, its clock
// moved on with the wall clock until ctx ends (embedredis.Start).
func embeddedRedis(ctx context.Context) (*miniredis.Miniredis, error) {
	return embedredis.Start(ctx)
}
