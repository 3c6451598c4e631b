package benchmark

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procAttr makes a child process die with this one, so that a bench killed
// midway leaves no worker behind.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// peakRSS returns the peak resident memory of a process in bytes: VmHWM of
// /proc/<pid>/status.
func peakRSS(pid int) (int64, error) { return procStatusKB(pid, "VmHWM") }

// currentRSS returns the resident memory of a process now, in bytes: VmRSS
// of /proc/<pid>/status.
func currentRSS(pid int) (int64, error) { return procStatusKB(pid, "VmRSS") }

// currentAnonRSS returns the part of the resident memory of a process now
// that is anonymous (heap, stacks), in bytes: RssAnon of /proc/<pid>/status.
// The rest is files mapped in (such as a dataset's index), which the kernel
// can drop and read again, and shared memory.
func currentAnonRSS(pid int) (int64, error) { return procStatusKB(pid, "RssAnon") }

// procStatusKB reads the size field of /proc/<pid>/status, in bytes.
func procStatusKB(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", field, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), field+":")
		if !ok {
			continue
		}
		return parseKB(rest)
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("%s: %w", field, err)
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// procCPU returns the CPU time a process has used, user and system, from
// /proc/<pid>/stat (in clock ticks, which the kernel's ABI fixes at 100 a
// second).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("process cpu: %w", err)
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime plus stime from the text of /proc/<pid>/stat.
func parseStatCPU(stat string) (time.Duration, error) {
	// The command name, in parentheses, may hold spaces: fields count from
	// after its closing parenthesis, where field 3 (state) starts.
	i := strings.LastIndex(stat, ") ")
	if i < 0 {
		return 0, fmt.Errorf("process cpu: %q is not a /proc/<pid>/stat", stat)
	}
	fields := strings.Fields(stat[i+2:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("process cpu: %q is short", stat)
	}
	var ticks int64
	for _, s := range fields[11:13] { // utime (14), stime (15)
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("process cpu: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / 100), nil
}

// selfCPU returns the CPU time this process has used, user and system.
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
