package main

import "context"

// runBench runs `creditrun bench`.
func runBench(ctx context.Context, args []string) error {
	return notYet("issue 4")(ctx, args)
}
