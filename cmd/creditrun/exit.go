package main

import "errors"

// exitError is an error that asks for an exit status other than 1, the
// status of any other error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError is a command line that does not parse or makes no sense:
// exit status 2.
func usageError(err error) error { return &exitError{code: 2, err: err} }

// exitCode is the exit status of a command that returned err: 0 for nil,
// the status an exitError asks for, else 1.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if e, ok := errors.AsType[*exitError](err); ok {
		return e.code
	}
	return 1
}
