//go:build !unix

package toxiproxy

import "syscall"

// sysProcAttr has nothing to set where there are no process groups.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// killGroup does nothing where there are no process groups; kill falls
// back to killing the process itself.
func killGroup(int) {}
