package toxiproxy

import "syscall"

// sysProcAttr puts the proxy server in its own process group, so Close can kill
// it whole, and asks the kernel to SIGKILL it when its parent dies, so a
// killed test binary leaves no server behind.
//
// Pdeathsig fires when the OS thread that started the child exits, not the
// process. The Go runtime keeps its threads alive unless a goroutine exits
// while locked to one, which this package never does.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
