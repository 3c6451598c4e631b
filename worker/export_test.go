package worker

import (
	"io"

	"github.com/creditrun/creditrun/jobs"
)

// ChunkRecords and ParallelMin are the chunk size and the threshold of
// parallel encoding, for tests around their boundaries.
const (
	ChunkRecords = chunkRecords
	ParallelMin  = parallelMin
)

// ParallelWriter is parallelWriter, for the differential tests.
type ParallelWriter = parallelWriter

// NewParallelWriter is newParallelWriter.
func NewParallelWriter(w io.Writer, f jobs.Format, columns []string, workers, size int) *ParallelWriter {
	return newParallelWriter(w, f, columns, workers, size)
}

// Abort is abort.
func (p *parallelWriter) Abort() { p.abort() }
