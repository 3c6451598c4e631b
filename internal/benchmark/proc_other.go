//go:build !linux

package benchmark

import (
	"errors"
	"syscall"
	"time"
)

func procAttr() *syscall.SysProcAttr { return nil }

// peakRSS needs Linux's /proc.
func peakRSS(int) (int64, error) {
	return 0, errors.New("peak rss: measured from /proc/<pid>/status, which only Linux has")
}

// selfCPU needs getrusage, which this build does not use.
func selfCPU() (time.Duration, error) { return 0, nil }

// currentRSS needs Linux's /proc.
func currentRSS(int) (int64, error) {
	return 0, errors.New("rss: measured from /proc/<pid>/status, which only Linux has")
}

// currentAnonRSS needs Linux's /proc.
func currentAnonRSS(int) (int64, error) {
	return 0, errors.New("rss: measured from /proc/<pid>/status, which only Linux has")
}

// procCPU needs Linux's /proc.
func procCPU(int) (time.Duration, error) {
	return 0, errors.New("process cpu: measured from /proc/<pid>/stat, which only Linux has")
}
