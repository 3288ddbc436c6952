// Package migrate moves an Argus archive from one major version to the
// other (3.x to 5.x, or back with --to 3), file by file, verified and
// resumable: `flowgate migrate`.
//
// Each input file is sniffed (gzip, bzip2, xz, zstd or plain; the Argus
// MAR cookie gives the version). A file already in the target version is
// copied byte for byte; a file that is not Argus data is reported and
// skipped; the others are decoded record by record (codecs/argus.Reader)
// and written in the target version (codecs/argus.Writer) under the same
// relative path, in the same compression unless Options.Compress says
// otherwise, with the input's modification time and mode.
//
// Verification, for every converted file:
//
//  1. As it is written, each output record is decoded again from the
//     bytes the Writer produced and compared with its input record, value
//     by value (the Argus layout, the MAR's cookie/version/id placement
//     and the source id's type aside, as codecs/argus's TestConvert3to5
//     compares them). For --to 3 a value 3.x cannot hold is a declared
//     loss (counted per ra field name, per file and in total): each
//     output record must decode, and the values are checked end to end by
//     the tests (Debian's ra reads the 3.x copy as it reads the original).
//  2. Once closed and synced, the output is read back from disk:
//     sha256 of its bytes, decompressed, sha256 of the Argus stream and its
//     records framed and counted; all must equal what was written.
//
// Only then is the temporary file (".NAME.migrate-tmp" beside the final
// name) renamed, and a line appended to the manifest
// (migrate.manifest.jsonl at the top of DST): path, result, versions,
// compression, input and output sha256 and size, records, MARs, first and
// last time, losses, error. A rerun skips the files whose manifest line
// and output (size and time) agree and redoes the rest, so a run killed at
// any moment ends, rerun, in the same tree; the manifest is rewritten
// sorted at the end of each run.
//
// Verify re-checks a finished migration: each output against its manifest
// line (sha256, records, times) and, where the input is still there,
// against the input again, record by record.
package migrate
