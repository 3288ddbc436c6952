// Package conformance holds tests that compare flowgate with the real tools
// (Debian's argus/ra 3.0.8.2, nfdump, tshark, softflowd, kcat) and with the
// reference outputs stored in the corpus ($FLOWGATE_CORPUS).
//
// TestRaGolden (ra_golden_test.go) decodes every Argus file of
// corpus/argus/oracle and upstream's baseline file with codecs/argus, prints
// the records with codecs/ratext using the field list of each golden, and
// compares the values field by field with what ra 3.0.8.2, ra 5.0.3 and
// ra 5.0.0 printed (CSV and JSON). Each difference must be listed in
// known-differences.tsv (columns: golden kind, field, scope glob, reason)
// with an upstream bug as its reason; an entry that no longer matches any
// difference fails the test, so the list cannot go stale. The test logs,
// per golden kind, how many records and values were compared and which
// fields differ.
package conformance
