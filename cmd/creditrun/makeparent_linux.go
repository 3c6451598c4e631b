package main

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
)

// stopWithMake returns a context that ends, as a SIGINT would end it, when
// the parent process is make and make is interrupted. `make run` execs
// `creditrun dev` as make's child. Ctrl-C on a terminal signals both, and
// make passes SIGTERM on, but GNU make does not pass on a SIGINT sent to
// its pid alone: it resets its handler of SIGINT and waits for its child,
// which would then run on. That reset shows in /proc/<ppid>/status (SigCgt
// loses SIGINT), and is what this watches for, every 200 ms; a parent that
// goes away ends the context too. With any other parent it returns ctx and
// watches nothing.
func stopWithMake(ctx context.Context, log *slog.Logger) context.Context {
	ppid := os.Getppid()
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(ppid) + "/comm")
	if err != nil {
		return ctx
	}
	if name := strings.TrimSpace(string(comm)); name != "make" && name != "gmake" {
		return ctx
	}
	if !catchesSIGINT(ppid) {
		return ctx // make ignores SIGINT (started in the background): nothing to watch for
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if os.Getppid() != ppid {
				log.Info("make, the parent process, is gone: stopping")
				cancel()
				return
			}
			if !catchesSIGINT(ppid) {
				log.Info("make, the parent process, was interrupted: stopping")
				cancel()
				return
			}
		}
	}()
	return ctx
}

// catchesSIGINT reports whether process pid has a handler for SIGINT, read
// from the SigCgt mask of /proc/<pid>/status.
func catchesSIGINT(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "SigCgt:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && mask&(1<<(2-1)) != 0 // SIGINT is 2: bit 1
		}
	}
	return false
}
