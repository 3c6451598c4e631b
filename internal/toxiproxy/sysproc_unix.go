//go:build unix && !linux

package toxiproxy

import "syscall"

// sysProcAttr puts the proxy server in its own process group, so Close can kill
// it whole. Only Linux has Pdeathsig: elsewhere, a killed test binary may
// leave its servers running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
