// Package redisserver starts real redis-server processes on free loopback
// ports: one server, or a three-master Redis Cluster.
//
// It exists because creditrun's ledger, jobs and workers are tested against
// the real store (STYLE.md: "Run against the real thing"), and because
// `creditrun bench` measures the ledger on a real Redis when no
// CREDITRUN_REDIS_URL is given. Each server gets its own port and its own
// temporary directory, so tests isolate by server and can run in parallel;
// fixed ports are never used (a redis-server may already run on 6379).
//
// Servers never outlive their owner: Close kills the process group, and on
// Linux the kernel sends SIGKILL to a server whose parent dies (Pdeathsig),
// so a test binary killed by a timeout or a signal leaves nothing behind.
//
// Tests use [T] and [ClusterT], which start a server or a cluster, register
// its Close with t.Cleanup, and fail the test with a clear message when
// redis-server is not installed.
package redisserver
