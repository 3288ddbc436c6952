//go:build !unix

package migrate

import "os"

// lock: no flock here; one run at a time is the user's to ensure.
func lock(*os.File) error { return nil }
