package main

import (
	"fmt"

	"github.com/creditrun/creditrun/api"
	"github.com/creditrun/creditrun/console"
)

// mountConsole serves the web console at /console/ on the API's handler,
// signing people in with the API's own keys.
func mountConsole(srv *api.Server, cfg console.Config) error {
	cfg.Keys = srv
	c, err := console.New(cfg)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	srv.Mount("/console/", c)
	return nil
}
