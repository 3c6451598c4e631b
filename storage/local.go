package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"os"
	"path"
	"sync"
	"time"
)

var _ Backend = (*Local)(nil)

// Local is the Backend of the embedded mode: objects are files under a
// directory, and links are HMAC-signed and expiring, served by Handler.
//
// Inside the directory, an object lives at its key; its content type and
// tags live in a sidecar file under .meta/, and uploads are written under
// .tmp/ and renamed into place, so a reader never sees half an object. Keys
// cannot start a segment with a dot, so no key reaches those two trees, and
// every file operation goes through an os.Root, so nothing outside the
// directory is ever touched. Concurrent Puts of one key in one process leave
// one whole object with its own sidecar.
type Local struct {
	dir     string
	baseURL string
	secret  []byte
	nowFunc func() time.Time

	seed  maphash.Seed
	locks [64]sync.Mutex // by key: an object and its sidecar change together
}

// Where Local keeps what is not an object.
const (
	metaDir = ".meta"
	tmpDir  = ".tmp"
)

// minSecret is the shortest HMAC secret Local accepts.
const minSecret = 16

// NewLocal returns a Local backend on dir (created when first needed). Its
// links are baseURL (the API's absolute address, such as
// http://127.0.0.1:8080) + /v1/files/<key>, signed with secret, which must be
// at least 16 bytes (Check and URL fail otherwise). nowFunc tells the time of
// signing and of checking a link; nil means time.Now.
func NewLocal(dir, baseURL string, secret []byte, nowFunc func() time.Time) *Local {
	if nowFunc == nil {
		nowFunc = time.Now
	}
	for len(baseURL) > 0 && baseURL[len(baseURL)-1] == '/' {
		baseURL = baseURL[:len(baseURL)-1]
	}
	return &Local{dir: dir, baseURL: baseURL, secret: append([]byte(nil), secret...), nowFunc: nowFunc, seed: maphash.MakeSeed()}
}

// meta is what a sidecar holds.
type meta struct {
	ContentType string            `json:"content_type,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
}

func (l *Local) lock(key string) *sync.Mutex {
	return &l.locks[maphash.String(l.seed, key)%uint64(len(l.locks))]
}

// root opens the directory, creating it when missing.
func (l *Local) root() (*os.Root, error) {
	r, err := os.OpenRoot(l.dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(l.dir, 0o755); err != nil {
			return nil, fmt.Errorf("local storage: %w", err)
		}
		r, err = os.OpenRoot(l.dir)
	}
	if err != nil {
		return nil, fmt.Errorf("local storage: %w", err)
	}
	return r, nil
}

func metaPath(key string) string { return metaDir + "/" + key + ".json" }

// Put implements Backend.
func (l *Local) Put(ctx context.Context, key string, r io.Reader, opts PutOptions) (int64, error) {
	if err := CheckKey(key); err != nil {
		return 0, err
	}
	root, err := l.root()
	if err != nil {
		return 0, err
	}
	defer root.Close()
	tmp, n, err := writeTemp(root, ctxReader{ctx, r})
	if err != nil {
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	defer func() { _ = root.Remove(tmp) }() // fails harmlessly after the rename
	if err := root.MkdirAll(path.Dir(key), 0o755); err != nil {
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	ct := opts.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	mu := l.lock(key)
	mu.Lock()
	defer mu.Unlock()
	if err := writeMeta(root, key, meta{ContentType: ct, Tags: opts.Tags}); err != nil {
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	if err := root.Rename(tmp, key); err != nil {
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	return n, nil
}

// writeTemp copies r to a new file under .tmp and returns its name.
func writeTemp(root *os.Root, r io.Reader) (name string, n int64, err error) {
	if err := root.MkdirAll(tmpDir, 0o755); err != nil {
		return "", 0, err
	}
	name = tmpDir + "/" + rand.Text()
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", 0, err
	}
	n, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = root.Remove(name)
		return "", 0, err
	}
	return name, n, nil
}

// writeMeta replaces the sidecar of key, atomically.
func writeMeta(root *os.Root, key string, m meta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	p := metaPath(key)
	if err := root.MkdirAll(path.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, _, err := writeTemp(root, bytes.NewReader(b))
	if err != nil {
		return err
	}
	if err := root.Rename(tmp, p); err != nil {
		_ = root.Remove(tmp)
		return err
	}
	return nil
}

// readMeta returns the sidecar of key; an object without one has none.
func readMeta(root *os.Root, key string) (meta, error) {
	b, err := root.ReadFile(metaPath(key))
	if errors.Is(err, fs.ErrNotExist) {
		return meta{}, nil
	}
	if err != nil {
		return meta{}, err
	}
	var m meta
	if err := json.Unmarshal(b, &m); err != nil {
		return meta{}, fmt.Errorf("sidecar of %s: %w", key, err)
	}
	return m, nil
}

// Delete implements Backend. It also removes the job's directories once
// they are empty.
func (l *Local) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	root, err := l.root()
	if err != nil {
		return err
	}
	defer root.Close()
	mu := l.lock(key)
	mu.Lock()
	defer mu.Unlock()
	if err := root.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if err := root.Remove(metaPath(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	for _, top := range []string{"", metaDir + "/"} {
		for dir := path.Dir(key); dir != "."; dir = path.Dir(dir) {
			if root.Remove(top+dir) != nil { // not empty, or gone
				break
			}
		}
	}
	return nil
}

// SetTags implements Backend.
func (l *Local) SetTags(ctx context.Context, key string, tags map[string]string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	root, err := l.root()
	if err != nil {
		return err
	}
	defer root.Close()
	mu := l.lock(key)
	mu.Lock()
	defer mu.Unlock()
	if _, err := statFile(root, key); err != nil {
		return fmt.Errorf("set tags of %s: %w", key, err)
	}
	m, err := readMeta(root, key)
	if err != nil {
		return fmt.Errorf("set tags of %s: %w", key, err)
	}
	m.Tags = tags
	if err := writeMeta(root, key, m); err != nil {
		return fmt.Errorf("set tags of %s: %w", key, err)
	}
	return nil
}

// Tags returns the tags of an object. Returns an error wrapping ErrNotFound
// when there is no object at key.
func (l *Local) Tags(ctx context.Context, key string) (map[string]string, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	root, err := l.root()
	if err != nil {
		return nil, err
	}
	defer root.Close()
	if _, err := statFile(root, key); err != nil {
		return nil, fmt.Errorf("tags of %s: %w", key, err)
	}
	m, err := readMeta(root, key)
	if err != nil {
		return nil, fmt.Errorf("tags of %s: %w", key, err)
	}
	if m.Tags == nil {
		m.Tags = map[string]string{}
	}
	return m.Tags, nil
}

// statFile returns the file at key, or an error wrapping ErrNotFound when
// there is none (or a directory is there).
func statFile(root *os.Root, key string) (fs.FileInfo, error) {
	fi, err := root.Stat(key)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, ErrNotFound
	case err != nil:
		return nil, err
	case !fi.Mode().IsRegular():
		return nil, ErrNotFound
	}
	return fi, nil
}

// Check implements Backend: the secret is long enough and a file can be
// written to the directory.
func (l *Local) Check(ctx context.Context) error {
	if len(l.secret) < minSecret {
		return fmt.Errorf("local storage: the link secret has %d bytes, fewer than %d", len(l.secret), minSecret)
	}
	root, err := l.root()
	if err != nil {
		return err
	}
	defer root.Close()
	tmp, _, err := writeTemp(root, bytes.NewReader(nil))
	if err != nil {
		return fmt.Errorf("local storage: %w", err)
	}
	if err := root.Remove(tmp); err != nil {
		return fmt.Errorf("local storage: %w", err)
	}
	return nil
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
