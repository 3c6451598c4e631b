package main

import (
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// memoryLimitAuto is config.MemoryLimitBytes when the soft memory limit
// follows the container's.
const memoryLimitAuto = -1

// memoryLimitRatio is the share of a container's memory limit that the
// automatic soft limit takes, leaving room for what the Go runtime does not
// count (mapped index files, the binary).
const memoryLimitRatio = 0.9

// parseMemoryLimit reads CREDITRUN_MEMORY_LIMIT: "auto", "off", or a size
// in bytes with an optional unit B, KiB, MiB, GiB or TiB, as GOMEMLIMIT
// takes it ("96MiB"). It returns memoryLimitAuto for auto and 0 for off.
func parseMemoryLimit(s string) (int64, error) {
	switch s {
	case "auto":
		return memoryLimitAuto, nil
	case "off":
		return 0, nil
	}
	num, mult := s, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is not auto, off or a size such as 512MiB", s)
	}
	return n * mult, nil
}

// applyMemoryLimit sets the Go runtime's soft memory limit from
// config.MemoryLimitBytes: a size as it is; auto, 90% of the memory limit
// of the process's cgroup (none without one); off, none. GOMEMLIMIT in the
// environment wins over all three: the runtime has applied it already. The
// collector then works harder as the heap nears the limit, rather than let
// it grow to twice what is live.
func applyMemoryLimit(bytes int64, gomemlimit string, log *slog.Logger) {
	switch {
	case gomemlimit != "":
		log.Info("memory limit from GOMEMLIMIT", "bytes", debug.SetMemoryLimit(-1))
	case bytes == 0:
	case bytes > 0:
		debug.SetMemoryLimit(bytes)
		log.Info("memory limit", "bytes", bytes)
	default:
		limit, err := memlimit.Set(memlimit.WithRatio(memoryLimitRatio), memlimit.WithProvider(memlimit.FromCgroup))
		if err != nil {
			log.Warn("no memory limit: the cgroup's could not be read", "err", err)
			return
		}
		if limit != math.MaxInt64 {
			log.Info("memory limit from the cgroup", "bytes", limit)
		}
	}
}
