//go:build !linux

package main

import (
	"context"
	"log/slog"
)

// stopWithMake watches make only on Linux, where /proc shows its signal
// handlers; elsewhere it returns ctx.
func stopWithMake(ctx context.Context, _ *slog.Logger) context.Context { return ctx }
