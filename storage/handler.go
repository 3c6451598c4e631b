package storage

import (
	"encoding/json"
	"mime"
	"net/http"
	"path"
	"strconv"
)

// Handler serves GET (and HEAD) /v1/files/{key...}, the links of URL, with no
// other authentication. It answers 403 forbidden for a missing, forged or
// expired signature and for an object tagged creditrun-hold=unpaid, and 404
// not_found for a key that is not one or has no object. Errors have the
// API's shape: {"error", "message"}.
func (l *Local) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+filesPath+"{key...}", l.serveFile)
	return mux
}

func (l *Local) serveFile(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	q := r.URL.Query()
	exp, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	if err != nil || !l.verify(key, exp, q.Get("sig")) {
		writeError(w, http.StatusForbidden, "forbidden", "The link's signature is not valid.")
		return
	}
	if l.nowFunc().Unix() > exp {
		writeError(w, http.StatusForbidden, "forbidden", "The link has expired.")
		return
	}
	if CheckKey(key) != nil {
		writeError(w, http.StatusNotFound, "not_found", "No such file.")
		return
	}
	root, err := l.root()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "Storage is not available.")
		return
	}
	defer root.Close()
	m, err := readMeta(root, key)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "The file's metadata cannot be read.")
		return
	}
	if m.Tags[HoldTag] == HoldUnpaid {
		writeError(w, http.StatusForbidden, "forbidden", "The file is held until its overage is paid.")
		return
	}
	f, err := root.Open(key)
	if err != nil {
		writeError(w, http.StatusNotFound, "not_found", "No such file.")
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		writeError(w, http.StatusNotFound, "not_found", "No such file.")
		return
	}
	if m.ContentType != "" {
		w.Header().Set("Content-Type", m.ContentType)
	}
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(key)}))
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "message": msg})
}
