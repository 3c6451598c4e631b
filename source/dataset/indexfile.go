package dataset

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"unsafe"
)

// An index file keeps a table's index on disk, so that a process maps it
// instead of building it: the index then costs the pages a search touches,
// which the kernel can drop and read again, and not a heap the size of the
// index plus the garbage of building it. Every part of the index is a flat
// slice of fixed-size values, so the file is those slices back to back, in
// this machine's byte order, each aligned to 8 bytes behind its length:
//
//	header: magic, byte-order mark, the data file's size and modification
//	        time, the number of records and of fields
//	slices: off, size, ids, idEnd, byID, exemplars, then per field its name,
//	        tokens (text, ends, posts, starts) and nums (vals, ords)
//	trailer: magic
//
// The file is named after the data file's absolute path and written to a
// temporary name first, then renamed, so concurrent processes never see half
// of one. A file whose header does not match the data file, or whose layout
// does not add up, is built again and replaced.
const indexMagic = "crdsidx1" // the format's version is its last byte

// byteOrderMark reads back as itself only on a machine of the writer's byte
// order.
const byteOrderMark = 0x01020304

// indexHeader is the fixed start of an index file.
type indexHeader struct {
	Magic     [8]byte
	ByteOrder uint32
	_         uint32
	DataSize  int64 // the data file's size and modification time (ns)
	DataMtime int64
	Records   uint64
	Fields    uint64
}

// dataStamp is what an index file is checked against: its data file's size
// and modification time.
type dataStamp struct {
	size, mtime int64
}

func stampOf(fi os.FileInfo) dataStamp {
	return dataStamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
}

// indexPath returns where the index of the data file at path lives in
// indexDir: <type>-<hash of the absolute path>.idx.
func indexPath(indexDir, name, path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(indexDir, name+"-"+hex.EncodeToString(sum[:8])+".idx"), nil
}

// writeIndex writes t's index to path, through a temporary file renamed
// into place.
func writeIndex(path string, t *table, stamp dataStamp) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := indexWriter{w: bufio.NewWriterSize(f, 1<<20)}
	h := indexHeader{ByteOrder: byteOrderMark, DataSize: stamp.size, DataMtime: stamp.mtime,
		Records: uint64(t.n), Fields: uint64(len(t.fields))}
	copy(h.Magic[:], indexMagic)
	w.raw(unsafe.Slice((*byte)(unsafe.Pointer(&h)), unsafe.Sizeof(h)))
	writeSlice(&w, t.off)
	writeSlice(&w, t.size)
	writeSlice(&w, t.ids)
	writeSlice(&w, t.idEnd)
	writeSlice(&w, t.byID)
	writeSlice(&w, t.exemplars)
	for i := range t.fields {
		fl := &t.fields[i]
		writeSlice(&w, []byte(fl.name))
		writeSlice(&w, fl.tokens.text)
		writeSlice(&w, fl.tokens.ends)
		writeSlice(&w, fl.tokens.posts)
		writeSlice(&w, fl.tokens.starts)
		writeSlice(&w, fl.nums.vals)
		writeSlice(&w, fl.nums.ords)
	}
	w.raw([]byte(indexMagic))
	if w.err == nil {
		w.err = w.w.Flush()
	}
	if w.err != nil {
		return w.err
	}
	// Readable by the other processes that share the directory, as a file
	// made by os.Create would be.
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

type indexWriter struct {
	w   *bufio.Writer
	n   int64
	err error
}

func (w *indexWriter) raw(b []byte) {
	if w.err != nil {
		return
	}
	var n int
	n, w.err = w.w.Write(b)
	w.n += int64(n)
}

// flat is what the index's slices hold: values of a fixed size, with no
// pointers.
type flat interface {
	byte | uint32 | int64 | uint64 | float64
}

// writeSlice writes the length of s in elements, padding to 8 bytes, and s.
func writeSlice[E flat](w *indexWriter, s []E) {
	var n [8]byte
	binary.NativeEndian.PutUint64(n[:], uint64(len(s)))
	w.raw(n[:])
	w.raw(bytesOf(s))
	var pad [8]byte
	w.raw(pad[:(8-w.n%8)%8])
}

// bytesOf is the memory of s as bytes.
func bytesOf[E flat](s []E) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(s[0])))
}

// errBadIndex is an index file that cannot be used; it is built again.
var errBadIndex = errors.New("not a usable index file")

// unsafeHeaderSize is the size of an index file's header.
func unsafeHeaderSize() uintptr { return unsafe.Sizeof(indexHeader{}) }

// headerOf reads the header at the start of b, which must be 8-byte aligned
// and hold one.
func headerOf(b []byte) indexHeader { return *(*indexHeader)(unsafe.Pointer(&b[0])) }

// indexReader hands out the slices of a mapped index file in the order
// writeIndex wrote them.
type indexReader struct {
	b   []byte
	off int
	err error
}

// readSlice returns the next slice of the file, without a copy.
func readSlice[E flat](r *indexReader) []E {
	if r.err != nil {
		return nil
	}
	var zero E
	size := int(unsafe.Sizeof(zero))
	if len(r.b)-r.off < 8 {
		r.err = fmt.Errorf("%w: truncated", errBadIndex)
		return nil
	}
	n := binary.NativeEndian.Uint64(r.b[r.off:])
	r.off += 8
	if n > uint64(len(r.b)-r.off)/uint64(size) {
		r.err = fmt.Errorf("%w: a slice runs past the end", errBadIndex)
		return nil
	}
	start := r.off
	r.off += int(n) * size
	r.off += (8 - r.off%8) % 8
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*E)(unsafe.Pointer(&r.b[start])), int(n))
}

// readIndex lays the index file's bytes b, as mapped, out as t's index. It
// returns an error wrapping errBadIndex when b is not an index of a data
// file of this stamp, or its layout does not add up; it checks the layout's
// shape, not every value, so as not to read the whole file in.
func readIndex(b []byte, t *table, stamp dataStamp) error {
	hs := int(unsafeHeaderSize())
	if len(b) < hs+len(indexMagic) || uintptr(unsafe.Pointer(unsafe.SliceData(b)))%8 != 0 {
		return fmt.Errorf("%w: too short", errBadIndex)
	}
	h := headerOf(b)
	switch {
	case string(h.Magic[:]) != indexMagic || string(b[len(b)-len(indexMagic):]) != indexMagic:
		return fmt.Errorf("%w: not this version of the format, or truncated", errBadIndex)
	case h.ByteOrder != byteOrderMark:
		return fmt.Errorf("%w: written on a machine of another byte order", errBadIndex)
	case h.DataSize != stamp.size || h.DataMtime != stamp.mtime:
		return fmt.Errorf("%w: the data file changed since", errBadIndex)
	case h.Records >= 1<<32-1 || h.Fields > uint64(len(b)):
		return fmt.Errorf("%w: bad header", errBadIndex)
	}
	r := indexReader{b: b[:len(b)-len(indexMagic)], off: hs}
	n := int(h.Records)
	t.n = n
	t.off = readSlice[int64](&r)
	t.size = readSlice[uint32](&r)
	t.ids = readSlice[byte](&r)
	t.idEnd = readSlice[uint32](&r)
	t.byID = readSlice[uint32](&r)
	t.exemplars = readSlice[uint32](&r)
	t.fields = make([]field, h.Fields)
	for i := range t.fields {
		fl := &t.fields[i]
		fl.name = string(readSlice[byte](&r))
		fl.tokens.text = readSlice[byte](&r)
		fl.tokens.ends = readSlice[uint32](&r)
		fl.tokens.posts = readSlice[uint32](&r)
		fl.tokens.starts = readSlice[uint32](&r)
		fl.nums.vals = readSlice[float64](&r)
		fl.nums.ords = readSlice[uint32](&r)
	}
	if r.err != nil {
		return r.err
	}
	if r.off != len(r.b) {
		return fmt.Errorf("%w: bytes left over", errBadIndex)
	}
	return checkLayout(t)
}

// checkLayout checks that the index's slices fit together: their lengths,
// and the last entry of each list of ends. A table that passes cannot index
// out of its slices through those lists' last entries.
func checkLayout(t *table) error {
	n := t.n
	bad := func(what string) error { return fmt.Errorf("%w: %s", errBadIndex, what) }
	if len(t.off) != n || len(t.size) != n || len(t.idEnd) != n || len(t.byID) != n {
		return bad("record lists of different lengths")
	}
	if n > 0 && int(t.idEnd[n-1]) != len(t.ids) {
		return bad("ids")
	}
	for i := range t.fields {
		if i > 0 && t.fields[i-1].name >= t.fields[i].name {
			return bad("fields out of order")
		}
		d := &t.fields[i].tokens
		k := len(d.ends)
		if len(d.starts) != k+1 || int(d.starts[k]) != len(d.posts) || (k > 0 && int(d.ends[k-1]) != len(d.text)) {
			return bad("field " + t.fields[i].name)
		}
		if len(t.fields[i].nums.vals) != len(t.fields[i].nums.ords) {
			return bad("numbers of field " + t.fields[i].name)
		}
	}
	return nil
}
