package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// sizeFigure prints the largest stripped bootstrap of the arm64 build
// (dir/<LogicalId>/bootstrap, from make build), in MB of 10^6 bytes.
func sizeFigure(rep *report, dir string) error {
	paths, err := filepath.Glob(filepath.Join(dir, "*", "bootstrap"))
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return fmt.Errorf("no %s/*/bootstrap: run make build", dir)
	}
	var largest int64
	name := ""
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		rep.note("%s: %d bytes", p, fi.Size())
		if fi.Size() > largest {
			largest, name = fi.Size(), p
		}
	}
	rep.note("binary_mb_max is %s (linux/arm64, -s -w)", name)
	rep.figure("binary_mb_max", float64(largest)/1e6)
	return nil
}
