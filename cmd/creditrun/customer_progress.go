package main

import (
	"fmt"
	"io"

	"github.com/schollz/progressbar/v3"

	"github.com/creditrun/creditrun/client"
)

// jobProgress shows a waited-for job: on a terminal a bar of its progress,
// elsewhere a plain line each time its status changes.
type jobProgress struct {
	w    io.Writer
	tty  bool
	bar  *progressbar.ProgressBar
	last client.Status
}

func newJobProgress(w io.Writer, tty bool) *jobProgress {
	return &jobProgress{w: w, tty: tty}
}

// update takes the job as one poll saw it.
func (p *jobProgress) update(j *client.Job) {
	total, done := j.Progress.Total, j.Progress.Done
	if total <= 0 {
		total = max(j.NumRecords, 1)
	}
	if j.Status == client.StatusSucceeded {
		done = total
	}
	if !p.tty {
		if j.Status != p.last {
			fmt.Fprintf(p.w, "job %s: %s (%d/%d)\n", j.ID, j.Status, done, total)
		}
		p.last = j.Status
		return
	}
	if p.bar == nil {
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetTheme(progressbar.ThemeDefault),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionSetRenderBlankState(true),
		)
	}
	if p.bar.GetMax64() != total {
		p.bar.ChangeMax64(total)
	}
	p.bar.Describe(fmt.Sprintf("job %s %-9s", j.ID, j.Status))
	_ = p.bar.Set64(min(done, total))
	p.last = j.Status
}

// finish ends the bar's line.
func (p *jobProgress) finish() {
	if p.bar != nil {
		_ = p.bar.Exit()
		fmt.Fprintln(p.w)
	}
}

// fileProgress shows the bytes of result files: on a terminal a bar per
// file; elsewhere nothing while it runs (the command prints a line per
// file written).
type fileProgress struct {
	w    io.Writer
	tty  bool
	name string
	bar  *progressbar.ProgressBar
}

// update takes how far the file name is.
func (p *fileProgress) update(name string, written, total int64) {
	if !p.tty {
		return
	}
	if name != p.name || p.bar == nil {
		p.finish()
		p.name = name
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetTheme(progressbar.ThemeDefault),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionSetDescription(name),
			progressbar.OptionSetRenderBlankState(true),
		)
	}
	_ = p.bar.Set64(min(written, total))
}

// finish ends the current bar's line.
func (p *fileProgress) finish() {
	if p.bar != nil {
		_ = p.bar.Exit()
		fmt.Fprintln(p.w)
		p.bar = nil
	}
}
