package dataset

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"unsafe"
)

// An index file keeps a table's index on disk, so that a process maps it
// instead of building it: the index then costs the pages a search touches,
// which the kernel can drop and read again, and not a heap the size of the
// index plus the garbage of building it. Every part of the index is a flat
// slice of fixed-size values, so the file is those slices back to back, in
// this machine's byte order, each behind its length and padded with zeros
// to 8 bytes:
//
//	header:  indexHeader
//	slices:  off, size, ids, idEnd, byID, exemplars, then per field its
//	         name, tokens (text, ends, posts, starts) and nums (vals, ords)
//	trailer: indexTrailer, a CRC-32C of all that precedes it
//
// The file is named after the data file's absolute path and written to a
// temporary name first, synced, then renamed, so that no process sees half
// of one. A file whose header does not match the data file, or whose
// checksum or layout does not add up, is built again and replaced. Index
// files must never be changed in place: a process that maps one would die
// of SIGBUS on a page that is gone.
const indexMagic = "crdsidx2" // the layout's version is its last byte

// indexRules is the version of the rules that build an index from records:
// words, numbers, normalization. An index file built by other rules is built
// again. Bump it with any change to them; TestIndexRules holds a digest of
// the fixture's index to remind.
const indexRules = 1

// byteOrderMark reads back as itself only on a machine of the writer's byte
// order.
const byteOrderMark = 0x01020304

// indexHeader is the fixed start of an index file.
type indexHeader struct {
	Magic     [8]byte
	ByteOrder uint32
	Rules     uint32
	Data      dataStamp // the data file's, when the index was built
	Records   uint64
	Fields    uint64
}

// indexTrailer is the fixed end of an index file.
type indexTrailer struct {
	Sum   uint32 // CRC-32C (Castagnoli) of the bytes before the trailer
	Pad   uint32 // zero
	Magic [8]byte
}

const (
	headerSize  = int(unsafe.Sizeof(indexHeader{}))
	trailerSize = int(unsafe.Sizeof(indexTrailer{}))
	// minFieldSize is the least a field takes in a file: the lengths of
	// its seven slices.
	minFieldSize = 7 * 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// dataStamp is what an index file is checked against: its data file's size,
// modification time (ns), and where the system has them its inode and
// change time (ns).
type dataStamp struct {
	Size, Mtime int64
	Ino         uint64
	Ctime       int64
}

// stampOf returns the stamp of a data file.
func stampOf(fi os.FileInfo) dataStamp {
	s := dataStamp{Size: fi.Size(), Mtime: fi.ModTime().UnixNano()}
	s.Ino, s.Ctime = inodeOf(fi)
	return s
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

// writeIndex writes t's index to path, through a temporary file synced and
// renamed into place. The file is readable by every user, as one made by
// os.Create is.
func writeIndex(path string, t *table, stamp dataStamp) (err error) {
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
	w := bufio.NewWriterSize(f, 1<<20)
	if err := encodeIndex(w, t, stamp); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// encodeIndex writes t's index, as an index file, to w.
func encodeIndex(w io.Writer, t *table, stamp dataStamp) error {
	e := indexEncoder{w: w, sum: crc32.New(castagnoli)}
	h := indexHeader{ByteOrder: byteOrderMark, Rules: indexRules, Data: stamp,
		Records: uint64(t.n), Fields: uint64(len(t.fields))}
	copy(h.Magic[:], indexMagic)
	e.raw(unsafe.Slice((*byte)(unsafe.Pointer(&h)), headerSize))
	encodeSlice(&e, t.off)
	encodeSlice(&e, t.size)
	encodeSlice(&e, t.ids)
	encodeSlice(&e, t.idEnd)
	encodeSlice(&e, t.byID)
	encodeSlice(&e, t.exemplars)
	for i := range t.fields {
		fl := &t.fields[i]
		encodeSlice(&e, []byte(fl.name))
		encodeSlice(&e, fl.tokens.text)
		encodeSlice(&e, fl.tokens.ends)
		encodeSlice(&e, fl.tokens.posts)
		encodeSlice(&e, fl.tokens.starts)
		encodeSlice(&e, fl.nums.vals)
		encodeSlice(&e, fl.nums.ords)
	}
	tr := indexTrailer{Sum: e.sum.Sum32()}
	copy(tr.Magic[:], indexMagic)
	e.raw(unsafe.Slice((*byte)(unsafe.Pointer(&tr)), trailerSize))
	return e.err
}

// indexEncoder writes an index file, summing what it writes, and keeps the
// first error.
type indexEncoder struct {
	w   io.Writer
	sum hash.Hash32
	n   int64
	err error
}

// raw writes b as it is.
func (e *indexEncoder) raw(b []byte) {
	if e.err != nil {
		return
	}
	var n int
	n, e.err = e.w.Write(b)
	e.sum.Write(b[:n])
	e.n += int64(n)
}

// flat is what the index's slices hold: values of a fixed size, with no
// pointers.
type flat interface {
	byte | uint32 | int64 | uint64 | float64
}

// encodeSlice writes the length of s in elements, s, and zeros up to the
// next multiple of 8 bytes.
func encodeSlice[E flat](e *indexEncoder, s []E) {
	var n [8]byte
	binary.NativeEndian.PutUint64(n[:], uint64(len(s)))
	e.raw(n[:])
	e.raw(bytesOf(s))
	var pad [8]byte
	e.raw(pad[:(8-e.n%8)%8])
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

// checkSum reads the index file f, of this size, through its descriptor (not
// a mapping, so that the pages do not count as the process's memory), and
// checks its checksum: the file is whole as it was written.
func checkSum(f *os.File, size int64) error {
	if size < int64(headerSize+trailerSize) {
		return fmt.Errorf("%w: too short", errBadIndex)
	}
	var tr indexTrailer
	if _, err := f.ReadAt(unsafe.Slice((*byte)(unsafe.Pointer(&tr)), trailerSize), size-int64(trailerSize)); err != nil {
		return err
	}
	sum := crc32.New(castagnoli)
	if _, err := io.CopyBuffer(sum, io.NewSectionReader(f, 0, size-int64(trailerSize)), make([]byte, 1<<20)); err != nil {
		return err
	}
	if sum.Sum32() != tr.Sum {
		return fmt.Errorf("%w: its checksum does not match", errBadIndex)
	}
	return nil
}

// indexReader hands out the slices of a mapped index file in the order
// encodeIndex wrote them.
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
	pad := (8 - r.off%8) % 8
	if len(r.b)-r.off < pad {
		r.err = fmt.Errorf("%w: truncated", errBadIndex)
		return nil
	}
	for _, c := range r.b[r.off : r.off+pad] {
		if c != 0 {
			r.err = fmt.Errorf("%w: padding that is not zeros", errBadIndex)
			return nil
		}
	}
	r.off += pad
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*E)(unsafe.Pointer(&r.b[start])), int(n))
}

// headerOf reads the header at the start of b, which must be 8-byte aligned
// and hold one.
func headerOf(b []byte) indexHeader { return *(*indexHeader)(unsafe.Pointer(&b[0])) }

// checkHeader checks that h is the header of an index file of this format,
// on this machine, by these rules, of a data file of this stamp.
func checkHeader(h indexHeader, stamp dataStamp) error {
	switch {
	case string(h.Magic[:]) != indexMagic:
		return fmt.Errorf("%w: not this version of the format", errBadIndex)
	case h.ByteOrder != byteOrderMark:
		return fmt.Errorf("%w: written on a machine of another byte order", errBadIndex)
	case h.Rules != indexRules:
		return fmt.Errorf("%w: built by other rules", errBadIndex)
	case h.Data != stamp:
		return fmt.Errorf("%w: the data file changed since", errBadIndex)
	}
	return nil
}

// readIndex lays the index file's bytes b, as mapped, out as t's index. It
// returns an error wrapping errBadIndex when b is not an index of a data
// file of this stamp built by these rules, or its layout does not add up.
// It checks the layout, not the values (checkSum vouches for those), so as
// not to read the whole file in.
func readIndex(b []byte, t *table, stamp dataStamp) error {
	if len(b) < headerSize+trailerSize {
		return fmt.Errorf("%w: too short", errBadIndex)
	}
	if uintptr(unsafe.Pointer(unsafe.SliceData(b)))%8 != 0 {
		return fmt.Errorf("%w: not aligned to 8 bytes in memory", errBadIndex)
	}
	h := headerOf(b)
	if err := checkHeader(h, stamp); err != nil {
		return err
	}
	tr := *(*indexTrailer)(unsafe.Pointer(&b[len(b)-trailerSize]))
	body := len(b) - headerSize - trailerSize
	switch {
	case string(tr.Magic[:]) != indexMagic || tr.Pad != 0:
		return fmt.Errorf("%w: no trailer: truncated", errBadIndex)
	case h.Records >= 1<<32-1 || h.Fields > uint64(body/minFieldSize):
		return fmt.Errorf("%w: bad header", errBadIndex)
	}
	r := indexReader{b: b[:len(b)-trailerSize], off: headerSize}
	t.n = int(h.Records)
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
		if r.err != nil {
			return r.err
		}
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
// and the last entry of each list of ends.
func checkLayout(t *table) error {
	n := t.n
	bad := func(what string) error { return fmt.Errorf("%w: %s", errBadIndex, what) }
	if len(t.off) != n || len(t.size) != n || len(t.idEnd) != n || len(t.byID) != n {
		return bad("record lists of different lengths")
	}
	if (n > 0 && int(t.idEnd[n-1]) != len(t.ids)) || (n == 0 && len(t.ids) > 0) {
		return bad("ids")
	}
	for i := range t.fields {
		if i > 0 && t.fields[i-1].name >= t.fields[i].name {
			return bad("fields out of order")
		}
		d := &t.fields[i].tokens
		k := len(d.ends)
		if len(d.starts) != k+1 || int(d.starts[k]) != len(d.posts) ||
			(k > 0 && int(d.ends[k-1]) != len(d.text)) || (k == 0 && len(d.text) > 0) {
			return bad("field " + t.fields[i].name)
		}
		if len(t.fields[i].nums.vals) != len(t.fields[i].nums.ords) {
			return bad("numbers of field " + t.fields[i].name)
		}
	}
	return nil
}
