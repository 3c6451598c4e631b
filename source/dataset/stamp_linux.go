//go:build linux

package dataset

import (
	"os"
	"syscall"
)

// inodeOf returns a file's inode and change time (ns), which catch a rewrite
// that kept the file's size and modification time (cp -p, rsync -t).
func inodeOf(fi os.FileInfo) (uint64, int64) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0
	}
	return st.Ino, st.Ctim.Nano()
}
