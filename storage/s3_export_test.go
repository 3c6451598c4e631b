package storage

// SetAbortFailedFuncForTest makes s call f after each failed attempt to
// abort a multipart upload, so a fault test can restart the server then.
func SetAbortFailedFuncForTest(s *S3, f func(uploadID string, err error)) { s.abortFailedFunc = f }
