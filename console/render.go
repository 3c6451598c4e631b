package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"strconv"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFS embed.FS

// staticFile serves one file of the stylesheet and scripts from the binary
// (no directory listing).
func staticFile(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if !fs.ValidPath(name) {
		http.NotFound(w, r)
		return
	}
	f, err := staticFS.Open("static/" + name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	http.ServeContent(w, r, name, st.ModTime(), f.(io.ReadSeeker))
}

// pageNames are the pages, each a template file beside layout.html.
var pageNames = []string{"login", "error", "holds", "account", "job", "queues"}

// pages are the parsed templates, one set per page: the layout, the
// page's own file and the shared fragments.
type pages map[string]*template.Template

func parsePages() (pages, error) {
	p := pages{}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFiles,
			"templates/layout.html", "templates/fragments.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: parse %s: %w", name, err)
		}
		p[name] = t
	}
	return p, nil
}

// frame is what the layout shows around every page.
type frame struct {
	Title   string
	Session *session
	// CSRF is the token the page's forms carry.
	CSRF string
	// Flash is a sentence about what was just done.
	Flash string
	// Nav names the navigation entry of the page.
	Nav  string
	Data any
}

// render writes a page, whole, or only its fragment named block when the
// request asks for it (htmx swapping a row).
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, f frame) {
	c.renderTemplate(w, status, name, "layout", f)
}

func (c *Console) renderTemplate(w http.ResponseWriter, status int, name, block string, data any) {
	t, ok := c.pages[name]
	if !ok {
		panic("console: no page " + name)
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, block, data); err != nil {
		c.log.Error("console: render", "page", name, "block", block, "err", err)
		status = http.StatusInternalServerError
		b.Reset()
		b.WriteString("<!doctype html><title>Error</title><p>This page could not be shown. Try again, or use the API.</p>")
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// errorView is the error page.
type errorView struct {
	Status  int
	Message string
}

// fail answers an error page with status and a sentence saying what to do.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) {
	f := frame{Title: http.StatusText(status), Session: s, Data: errorView{Status: status, Message: msg}}
	if r.Header.Get("HX-Request") == "true" {
		// htmx swapped a part of the page: show the error in place of the
		// page's main part instead.
		w.Header().Set("HX-Retarget", "main")
		w.Header().Set("HX-Reselect", "main")
		w.Header().Set("HX-Reswap", "outerHTML")
	}
	if s != nil {
		f.CSRF = s.CSRF
	}
	c.render(w, r, status, "error", f)
}
