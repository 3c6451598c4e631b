package main

import "context"

// runDataset runs `creditrun dataset generate`. Issue 3 fills it in.
func runDataset(ctx context.Context, args []string) error {
	return notYet("issue 3")(ctx, args)
}
