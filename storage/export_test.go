package storage

// SignForTest exposes the signature so tests can forge links with the right
// secret for keys URL would refuse.
func SignForTest(l *Local, key string, expires int64) string { return l.sign(key, expires) }
