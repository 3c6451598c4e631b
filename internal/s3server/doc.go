// Package s3server starts a real S3-compatible server, versitygw, on a free
// loopback port, for tests and benchmarks of creditrun's S3 storage.
//
// It exists because the S3 backend and the overage gate are tested against a
// server that checks signatures, presigned-URL expiry and object tags
// (STYLE.md: "Run against the real thing"; gofakes3 checks no signature, so
// it proves nothing about the gate). Each server serves a fresh temporary
// directory through versitygw's posix backend, with fixed root keys, so tests
// isolate by server and run in parallel.
//
// A server never outlives its owner: Close kills its process group, and on
// Linux the kernel sends SIGKILL to a server whose parent dies (Pdeathsig).
// Stop and Restart kill the server and start it again on the same port and
// directory, for fault tests: what versitygw keeps on disk (objects, tags,
// unfinished multipart uploads) survives a restart.
//
// Tests use [T], which starts a server, registers its Close with t.Cleanup,
// and fails the test with a clear message when versitygw is not installed
// (`make test` installs it).
package s3server
