package dataset

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/creditrun/creditrun/source"
)

// openMode is a dataset opened one way.
type openMode struct {
	name string
	d    *Dataset
}

// openModes opens the dataset in dir in each way of holding its index: in
// memory; built into an index directory and mapped; and mapped from that
// directory by a second open, which builds nothing. The tables of the last
// two are checked to be mapped.
func openModes(t *testing.T, dir string) []openMode {
	t.Helper()
	open := func(opts Options) *Dataset {
		d, err := OpenWith(t.Context(), dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	mem := open(Options{})
	indexDir := t.TempDir()
	built := open(Options{IndexDir: indexDir})
	stamps := indexStamps(t, indexDir)
	mapped := open(Options{IndexDir: indexDir})
	if got := indexStamps(t, indexDir); len(got) == 0 || !sameFiles(got, stamps) {
		t.Fatalf("a second open wrote the index files again, or there are none: %v, then %v", stamps, got)
	}
	for name, tb := range mem.tables {
		if tb.mapped || !built.tables[name].mapped || !mapped.tables[name].mapped {
			t.Fatalf("%s: mapped in memory %v, built %v, reopened %v; want false, true, true",
				name, tb.mapped, built.tables[name].mapped, mapped.tables[name].mapped)
		}
	}
	return []openMode{{"memory", mem}, {"built", built}, {"mapped", mapped}}
}

// indexStamps returns the files of an index directory by name.
func indexStamps(t *testing.T, dir string) map[string]os.FileInfo {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]os.FileInfo{}
	for _, e := range entries {
		fi, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = fi
	}
	return out
}

// sameFiles reports whether two readings of an index directory show the same
// files: an index written again is a new file renamed into place.
func sameFiles(a, b map[string]os.FileInfo) bool {
	if len(a) != len(b) {
		return false
	}
	for name, fi := range a {
		if b[name] == nil || !os.SameFile(fi, b[name]) {
			return false
		}
	}
	return true
}

// TestIndexFileAnswersAsMemory compares, on every data type, what a dataset
// whose index is mapped answers with what it answers with the index in
// memory: the fields, random searches and matches.
func TestIndexFileAnswersAsMemory(t *testing.T) {
	dir := t.TempDir()
	generate(t, GenerateConfig{Dir: dir, People: 600, Properties: 400, Businesses: 400, Products: 400, Seed: 11})
	modes := openModes(t, dir)
	mem := modes[0].d
	for _, dataType := range source.DataTypes() {
		recs := oracleRecords(t, mem, dataType)
		wantFields, err := mem.Fields(dataType)
		if err != nil {
			t.Fatal(err)
		}
		var items []source.Item
		for i := 0; i < len(recs); i += 37 {
			items = append(items, source.Item{"id": recs[i].id})
		}
		items = append(items, source.Item{"id": "no such id"})
		for _, m := range modes[1:] {
			if m.d.Len(dataType) != mem.Len(dataType) {
				t.Errorf("%s %s: Len %d, want %d", m.name, dataType, m.d.Len(dataType), mem.Len(dataType))
			}
			fields, err := m.d.Fields(dataType)
			if err != nil || !cmp.Equal(fields, wantFields) {
				t.Errorf("%s %s: Fields %v, %v; want %v", m.name, dataType, fields, err, wantFields)
			}
			r := rng{s: 7}
			for range 100 {
				q := randomQuery(&r, recs, 3)
				wantN, want := searchIDs(t, mem, dataType, q, len(recs))
				gotN, got := searchIDs(t, m.d, dataType, q, len(recs))
				if gotN != wantN || !cmp.Equal(got, want) {
					t.Fatalf("%s %s %q: found %d, want %d; diff (-memory +mapped):\n%s", m.name, dataType, q, gotN, wantN, cmp.Diff(want, got))
				}
			}
			if got, want := matchIDs(t, m.d, dataType, []string{"id"}, items), matchIDs(t, mem, dataType, []string{"id"}, items); !cmp.Equal(got, want) {
				t.Errorf("%s %s: matches %v, want %v", m.name, dataType, got, want)
			}
		}
	}
}

// copyFixture copies the fixture dataset to a directory of the test's.
func copyFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir("testdata/fixture")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("testdata/fixture", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// openIndexed opens dir with indexDir, and reports whether it built the
// people's index (true) or mapped the one there (false).
func openIndexed(t *testing.T, dir, indexDir string) (*Dataset, bool) {
	t.Helper()
	path, err := indexPath(indexDir, source.People, filepath.Join(dir, "people.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(path)
	d, err := OpenWith(t.Context(), dir, Options{IndexDir: indexDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if !d.tables[source.People].mapped {
		t.Fatal("the people's index is not mapped")
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// An index is written to a new file renamed into place.
	built := before == nil || !os.SameFile(before, after)
	if built != slices.Contains(d.built, source.People) {
		t.Fatalf("a new index file %v, but the open reports the people's index built: %v", built, d.built)
	}
	return d, built
}

// TestIndexFileRebuiltWhenStale changes the data file after its index was
// written, once in size and once in place with its size kept: each time the
// next open builds the index again and finds the change.
func TestIndexFileRebuiltWhenStale(t *testing.T) {
	dir, indexDir := copyFixture(t), t.TempDir()
	if _, built := openIndexed(t, dir, indexDir); !built {
		t.Fatal("the first open did not build the index")
	}
	if _, built := openIndexed(t, dir, indexDir); built {
		t.Fatal("the second open built the index again")
	}
	people := filepath.Join(dir, "people.jsonl")
	f, err := os.OpenFile(people, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"id":"per_new","firstName":"Zebulon"}` + "\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	d, built := openIndexed(t, dir, indexDir)
	if !built {
		t.Fatal("an open after the file grew did not build the index again")
	}
	if n, ids := searchIDs(t, d, source.People, "firstName:zebulon", 10); n != 1 || ids[0] != "per_new" {
		t.Fatalf("the new record: found %d %v", n, ids)
	}

	// The same size, another content, a later modification time.
	b, err := os.ReadFile(people)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte("Zebulon"), []byte("Zachary"), 1)
	if err := os.WriteFile(people, b, 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(people, later, later); err != nil {
		t.Fatal(err)
	}
	d, built = openIndexed(t, dir, indexDir)
	if !built {
		t.Fatal("an open after the file changed in place did not build the index again")
	}
	if n, _ := searchIDs(t, d, source.People, "firstName:zebulon", 10); n != 0 {
		t.Fatalf("the old name: found %d", n)
	}
	if n, ids := searchIDs(t, d, source.People, "firstName:zachary", 10); n != 1 || ids[0] != "per_new" {
		t.Fatalf("the new name: found %d %v", n, ids)
	}

	// The same size and modification time, another content (as cp -p or
	// rsync -t leave a file): the change time tells.
	if runtime.GOOS != "linux" {
		return
	}
	before, err := os.Stat(people)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte("Zachary"), []byte("Zebedee"), 1)
	if err := os.WriteFile(people, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(people, later, later); err != nil {
		t.Fatal(err)
	}
	// The change time moves by the kernel's tick (4 ms or more on older
	// kernels): touch the file's mode until it has moved.
	for deadline := time.Now().Add(10 * time.Second); ; {
		after, err := os.Stat(people)
		if err != nil {
			t.Fatal(err)
		}
		if stampOf(after) != stampOf(before) && after.ModTime().Equal(later) && after.Size() == before.Size() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the change time did not move: %+v", stampOf(after))
		}
		time.Sleep(10 * time.Millisecond)
		if err := os.Chmod(people, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, built = openIndexed(t, dir, indexDir)
	if !built {
		t.Fatal("an open after the file changed with its size and time kept did not build the index again")
	}
	if n, ids := searchIDs(t, d, source.People, "firstName:zebedee", 10); n != 1 || ids[0] != "per_new" {
		t.Fatalf("the newest name: found %d %v", n, ids)
	}
}

// TestIndexFileRebuiltWhenBad replaces a good index file with broken ones:
// each is built again, and the dataset answers as it did.
func TestIndexFileRebuiltWhenBad(t *testing.T) {
	dir, indexDir := copyFixture(t), t.TempDir()
	d, _ := openIndexed(t, dir, indexDir)
	wantN, want := searchIDs(t, d, source.People, "*", 100)
	path, err := indexPath(indexDir, source.People, filepath.Join(dir, "people.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// changed returns good with one byte changed; with summed, its checksum
	// is made to match, so that the checks after the checksum must catch it.
	changed := func(at int, v byte, summed bool) []byte {
		b := bytes.Clone(good)
		b[at] = v
		if summed {
			binary.NativeEndian.PutUint32(b[len(b)-trailerSize:], crc32.Checksum(b[:len(b)-trailerSize], castagnoli))
		}
		return b
	}
	zeroed := bytes.Clone(good)
	clear(zeroed[len(zeroed)/3 : len(zeroed)/2])
	records := headerSize - 16 // the header's records count, then fields count
	for _, c := range []struct {
		name   string
		b      []byte
		summed bool // the checksum matches
	}{
		{"empty", []byte{}, false},
		{"truncated", good[:len(good)/2], false},
		{"no trailer", good[:len(good)-trailerSize], false},
		{"bytes after", append(bytes.Clone(good), 0, 0, 0, 0, 0, 0, 0, 0), false},
		{"a flipped byte", changed(len(good)/2, good[len(good)/2]^0xff, false), false},
		{"a zeroed block", zeroed, false},
		{"other checksum", changed(len(good)-trailerSize, good[len(good)-trailerSize]^1, false), false},
		{"not an index", []byte(strings.Repeat("not an index ", 100)), false},
		{"other version", changed(7, '0', true), true},
		{"other order", changed(8, 9, true), true},
		{"other rules", changed(12, 0x7f, true), true},
		{"huge count", changed(records+7, 0x7f, true), true},
		{"huge field count", changed(records+8+7, 0x7f, true), true},
		{"short slice", changed(headerSize, 0, true), true}, // the first slice's length
		{"trailer padding", changed(len(good)-trailerSize+4, 1, true), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Written anew and renamed, as index files always are: earlier
			// opens still map the file before.
			tmp := path + ".test"
			if err := os.WriteFile(tmp, c.b, 0o644); err != nil {
				t.Fatal(err)
			}
			if c.summed {
				f, err := os.Open(tmp)
				if err != nil {
					t.Fatal(err)
				}
				err = checkSum(f, int64(len(c.b)))
				f.Close()
				if err != nil {
					t.Fatalf("the case's checksum does not match: %v", err)
				}
			}
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
			d, built := openIndexed(t, dir, indexDir)
			if !built {
				t.Fatal("a bad index was not built again")
			}
			if n, got := searchIDs(t, d, source.People, "*", 100); n != wantN || !cmp.Equal(got, want) {
				t.Fatalf("found %d %v, want %d %v", n, got, wantN, want)
			}
			if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, good) {
				t.Fatalf("the index built again differs from the first (%v)", err)
			}
		})
	}
}

// TestIndexFileUnwritable opens a dataset whose index directory cannot be
// made: the index stays in memory, the dataset answers, and a warning says
// why.
func TestIndexFileUnwritable(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	d, err := OpenWith(t.Context(), "testdata/fixture", Options{IndexDir: notDir, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("OpenWith into a file: %v", err)
	}
	defer d.Close()
	if d.tables[source.People].mapped {
		t.Error("the people's index is mapped from nowhere")
	}
	if n, _ := searchIDs(t, d, source.People, "*", 100); n != d.Len(source.People) || n == 0 {
		t.Errorf("found %d of %d people", n, d.Len(source.People))
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "stays in memory") {
		t.Errorf("no warning logged: %q", logs.String())
	}
}

// TestIndexFileShared opens two datasets at once from several goroutines each,
// all sharing one index directory: every open answers for its own data, and
// no temporary file is left.
func TestIndexFileShared(t *testing.T) {
	dirs := []string{t.TempDir(), t.TempDir()}
	generate(t, GenerateConfig{Dir: dirs[0], People: 300, Seed: 1})
	generate(t, GenerateConfig{Dir: dirs[1], People: 200, Seed: 2})
	indexDir := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			dir := dirs[g%2]
			d, err := OpenWith(t.Context(), dir, Options{IndexDir: indexDir})
			if err != nil {
				errs <- err
				return
			}
			defer d.Close()
			if want := 300 - 100*(g%2); d.Len(source.People) != want {
				errs <- fmt.Errorf("%s: %d people, want %d", dir, d.Len(source.People), want)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	entries, err := filepath.Glob(filepath.Join(indexDir, "*.idx"))
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	for _, dir := range dirs {
		names, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		files += len(names)
	}
	if len(entries) != files {
		t.Errorf("index directory holds %d index files, want %d (one per data file)", len(entries), files)
	}
	if tmp, _ := filepath.Glob(filepath.Join(indexDir, "*.tmp")); len(tmp) > 0 {
		t.Errorf("left in the index directory: %v", tmp)
	}
}

// FuzzReadIndex lays arbitrary bytes out as an index: it never panics, and
// what it accepts is what encodeIndex writes for the table it read, byte for
// byte (the checksum aside, which checkSum checks before). The data file's stamp is taken from the bytes'
// own header, so that the fuzzer gets past it.
func FuzzReadIndex(f *testing.F) {
	indexDir := f.TempDir()
	d, err := OpenWith(f.Context(), "testdata/fixture", Options{IndexDir: indexDir})
	if err != nil {
		f.Fatal(err)
	}
	d.Close()
	paths, err := filepath.Glob(filepath.Join(indexDir, "*.idx"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no index files: %v", err)
	}
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		// A header that claims more fields than the file could hold.
		huge := bytes.Clone(b)
		huge[headerSize-1] = 0x7f
		f.Add(huge)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		buf := bytesOf(make([]uint64, (len(b)+7)/8))[:len(b)]
		copy(buf, b)
		var stamp dataStamp
		if len(buf) >= headerSize {
			stamp = headerOf(buf).Data
		}
		var tb table
		if err := readIndex(buf, &tb, stamp); err != nil {
			return
		}
		var again bytes.Buffer
		if err := encodeIndex(&again, &tb, stamp); err != nil {
			t.Fatal(err)
		}
		sum := len(b) - trailerSize // the trailer's checksum: 4 bytes
		if got := again.Bytes(); len(got) != len(b) || !bytes.Equal(got[:sum], b[:sum]) || !bytes.Equal(got[sum+4:], b[sum+4:]) {
			t.Fatalf("readIndex accepted %d bytes that encode back as %d other bytes", len(b), len(got))
		}
	})
}

// TestIndexRules holds a digest of the fixture's index, between its header
// and its trailer. When it changes, the rules that build an index from
// records changed, or the layout did: bump indexRules or the magic's
// version, so that index files built before are built again, and set the
// digest anew.
func TestIndexRules(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the digest is of a little-endian machine's index")
	}
	const want = "35802b06e028c671d389adb7fb28529a0608d457fc0ac57486f035602c2b1006"
	d, err := Open(t.Context(), "testdata/fixture")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	h := sha256.New()
	for _, name := range d.DataTypes() {
		var b bytes.Buffer
		if err := encodeIndex(&b, d.tables[name], dataStamp{}); err != nil {
			t.Fatal(err)
		}
		h.Write(b.Bytes()[headerSize : b.Len()-trailerSize])
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		t.Errorf("the fixture's index digest is %s, was %s (indexRules %d): bump indexRules if the rules of building an index changed, then set the digest", got, want, indexRules)
	}
}

// TestIndexFileBuiltOnce starts processes that open one dataset at once on
// a fresh index directory: exactly one builds the people's index, and the
// others wait for it and map it. The processes are this test binary, run as
// indexHelperProcess.
func TestIndexFileBuiltOnce(t *testing.T) {
	if os.Getenv(helperEnv) != "" {
		t.Skip("a helper process")
	}
	dir, indexDir := t.TempDir(), t.TempDir()
	// Big enough that building takes far longer than starting a process.
	generate(t, GenerateConfig{Dir: dir, People: 60_000, Seed: 4})
	const procs = 4
	outs := make([]bytes.Buffer, procs)
	cmds := make([]*exec.Cmd, procs)
	for i := range cmds {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestIndexHelperProcess$")
		cmd.Env = append(os.Environ(), helperEnv+"="+dir+string(os.PathListSeparator)+indexDir)
		cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	built := 0
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper %d: %v: %s", i, err, outs[i].String())
		}
		switch out := outs[i].String(); {
		case strings.Contains(out, "people built"):
			built++
		case !strings.Contains(out, "people mapped"):
			t.Fatalf("helper %d said neither built nor mapped: %s", i, out)
		}
	}
	if built != 1 {
		t.Errorf("%d of %d processes built the index, want 1", built, procs)
	}
}

// helperEnv tells a run of this binary that it is TestIndexFileBuiltOnce's
// helper: dataset dir and index dir, separated as in PATH.
const helperEnv = "CREDITRUN_DATASET_INDEX_HELPER"

// TestIndexHelperProcess is TestIndexFileBuiltOnce's helper: it opens the
// dataset and says whether it built or mapped the people's index.
func TestIndexHelperProcess(t *testing.T) {
	dir, indexDir, ok := strings.Cut(os.Getenv(helperEnv), string(os.PathListSeparator))
	if !ok {
		t.Skip("run by TestIndexFileBuiltOnce")
	}
	d, err := OpenWith(t.Context(), dir, Options{IndexDir: indexDir})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if !d.tables[source.People].mapped {
		t.Fatal("people not mapped")
	}
	if slices.Contains(d.built, source.People) {
		fmt.Println("people built")
	} else {
		fmt.Println("people mapped")
	}
}
