package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/flowgate/flowgate/gateway/migrate"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newMigrateCmd() *cobra.Command {
	var o migrate.Options
	var inPlace, verify, quiet bool
	var progress string
	cmd := &cobra.Command{
		Use:   "migrate [flags] SRC DST | --in-place SRC | --verify DST [SRC]",
		Short: "move an Argus archive to 5.x (or back to 3.x), verified and resumable",
		Long: `migrate writes the 5.x version of every Argus file under SRC (a file or a
tree) to the same relative path under DST, in the file's own compression
(gzip, bzip2, xz, zstd or none; --compress changes it) and with its
modification time. Files already in the target version are copied as they
are; files that are not Argus data are reported and skipped; a file cut
short is migrated up to the cut and reported.

Every output is checked record by record against its input as it is
written, then read back from disk, before it takes its final name (it is
written as .NAME.migrate-tmp). DST/migrate.manifest.jsonl gets a line per
file: path, result, sha256 and size in and out, records, first and last
time, losses. Run it again after a crash or kill: verified files are
skipped, the rest redone. --verify DST [SRC] re-checks a finished
migration against its manifest and, given SRC, against the inputs again.

--to 3 writes 3.x for tools that read only 3.x, and lists every value 3.x
cannot hold, per file (manifest) and in total. Exit status 1 when a file
failed.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			stderr := cmd.ErrOrStderr()
			if !quiet {
				o.Progress = stderr
				switch progress {
				case "bar":
					o.Bar = true
				case "auto":
					f, ok := stderr.(*os.File)
					o.Bar = ok && term.IsTerminal(int(f.Fd()))
				}
			}
			if verify {
				if len(args) < 1 || len(args) > 2 {
					return exitStatus{2, fmt.Errorf("migrate --verify DST [SRC]")}
				}
				if len(args) == 2 {
					o.VerifyFrom = args[1]
				}
				s, err := migrate.Verify(ctx, args[0], o)
				if err != nil {
					return exitStatus{1, err}
				}
				return exitIf(s.Err())
			}
			o.InPlace = inPlace
			var src, dst string
			switch {
			case inPlace && len(args) == 1:
				src = args[0]
			case !inPlace && len(args) == 2:
				src, dst = args[0], args[1]
			default:
				return exitStatus{2, fmt.Errorf("migrate SRC DST, or migrate --in-place SRC")}
			}
			s, err := migrate.Run(ctx, src, dst, o)
			if err != nil {
				return exitStatus{1, err}
			}
			return exitIf(s.Err())
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.To, "to", 5, "target Argus major `VERSION`: 5, or 3 for tools that read only 3.x")
	f.StringVar(&o.Compress, "compress", "", "output compression: gzip, bzip2, xz, zstd or none (default: each file's own)")
	f.IntVar(&o.Level, "level", 0, "output compression `LEVEL`, 1 (fastest) to 9 (smallest), as gzip -1 … -9 (default: the compressor's own, about gzip -6's size)")
	f.IntVarP(&o.Jobs, "jobs", "j", 0, "files at once (default: the number of cores)")
	f.BoolVar(&inPlace, "in-place", false, "replace each file under SRC once its new version is verified")
	f.BoolVar(&verify, "verify", false, "re-check a finished migration in DST against its manifest")
	f.StringVar(&progress, "progress", "auto", "progress display: auto (a bar on a terminal, lines otherwise), bar, plain")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress and no summary")
	return cmd
}

func exitIf(err error) error {
	if err != nil {
		return exitStatus{1, err}
	}
	return nil
}
