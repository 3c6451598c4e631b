package console

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/hibiken/asynq"
)

// queueTasks is how many retry and archived tasks the page lists a queue.
const queueTasks = 20

// queuesView is the admin's queues page.
type queuesView struct {
	// Available is false when the console has no inspector.
	Available bool
	Queues    []queueView
}

// queueView is one asynq queue: its counts by state, the latency of its
// oldest pending task, and its retry and archived tasks.
type queueView struct {
	*asynq.QueueInfo
	RetryTasks    []taskView
	ArchivedTasks []taskView
}

// taskView is a task with the forms that act on it.
type taskView struct {
	*asynq.TaskInfo
	CSRF string
}

// LatencyText is the queue's latency, rounded to what a person reads.
func (q queueView) LatencyText() string {
	if q.Pending == 0 {
		return "none pending"
	}
	return q.Latency.Round(time.Second).String()
}

// queuesPage is GET /console/queues, built on asynq's Inspector.
func (c *Console) queuesPage(w http.ResponseWriter, r *http.Request, s *session) {
	v := queuesView{Available: c.cfg.Queues != nil}
	if v.Available {
		names, err := c.cfg.Queues.Queues()
		if err != nil {
			c.unavailable(w, r, s, "list queues", err)
			return
		}
		slices.Sort(names)
		for _, name := range names {
			info, err := c.cfg.Queues.GetQueueInfo(name)
			if err != nil {
				c.unavailable(w, r, s, "read a queue", err)
				return
			}
			q := queueView{QueueInfo: info}
			retry, err := c.cfg.Queues.ListRetryTasks(name, asynq.PageSize(queueTasks))
			if err != nil {
				c.unavailable(w, r, s, "list retry tasks", err)
				return
			}
			archived, err := c.cfg.Queues.ListArchivedTasks(name, asynq.PageSize(queueTasks))
			if err != nil {
				c.unavailable(w, r, s, "list archived tasks", err)
				return
			}
			for _, t := range retry {
				q.RetryTasks = append(q.RetryTasks, taskView{TaskInfo: t, CSRF: s.CSRF})
			}
			for _, t := range archived {
				q.ArchivedTasks = append(q.ArchivedTasks, taskView{TaskInfo: t, CSRF: s.CSRF})
			}
			v.Queues = append(v.Queues, q)
		}
	}
	flash := ""
	switch q := r.URL.Query(); {
	case q.Get("ran") != "":
		flash = "Task " + q.Get("ran") + " is pending again: a worker runs it next."
	case q.Get("deleted") != "":
		flash = "Task " + q.Get("deleted") + " is deleted."
	}
	c.render(w, r, http.StatusOK, "queues", frame{Title: "Queues", Session: s, CSRF: s.CSRF, Nav: "queues", Flash: flash, Data: v})
}

// runTask is POST /console/queues/{queue}/tasks/{task}/run: a retry or
// archived task goes back to pending.
func (c *Console) runTask(w http.ResponseWriter, r *http.Request, s *session) {
	c.taskAction(w, r, s, "ran", func(q, id string) error { return c.cfg.Queues.RunTask(q, id) })
}

// deleteTask is POST /console/queues/{queue}/tasks/{task}/delete.
func (c *Console) deleteTask(w http.ResponseWriter, r *http.Request, s *session) {
	c.taskAction(w, r, s, "deleted", func(q, id string) error { return c.cfg.Queues.DeleteTask(q, id) })
}

func (c *Console) taskAction(w http.ResponseWriter, r *http.Request, s *session, done string, do func(q, id string) error) {
	if c.cfg.Queues == nil {
		c.notFound(w, r, s)
		return
	}
	id := r.PathValue("task")
	err := do(r.PathValue("queue"), id)
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		c.fail(w, r, s, http.StatusNotFound, "That task is gone: it may have run or been deleted since the page was shown. Open the queues page again.")
		return
	case err != nil:
		c.unavailable(w, r, s, "act on a task", err)
		return
	}
	http.Redirect(w, r, "/console/queues?"+done+"="+url.QueryEscape(id), http.StatusSeeOther)
}
