// Package sensor turns packets into Argus flow records, as the argus
// daemon does (see argus-clients.md §5 for the flow model and defaults).
//
// The pipeline, one package per stage:
//
//	capture  pcap/pcapng files and live interfaces -> capture.Frame
//	decode   capture.Frame -> decode.Packet (no allocation per packet)
//	track    decode.Packet -> flow table -> flow.Record (status, close, idle)
//	serve    flow.Record -> clients on TCP 561 (argus's protocol)
//
// Sensor (this package) wires them together for `flowgate sensor`.
//
// # Batches and shards
//
// Frames takes a batch of frames (capture.BatchSource.ReadFrames). With
// one shard (Options.Shards 0 or 1) the caller's goroutine decodes and
// tracks each frame in turn, and its records are byte for byte those of
// the frame-at-a-time sensor.
//
// With n > 1 shards there are n flow tables (track.Tracker, not safe for
// concurrent use), each on its own goroutine. The caller's goroutine only
// copies the frames into one of a few reusable slots (reading a file, the
// frames of several calls go in one slot, 2048 frames, so that the
// hand-over is paid rarely), counts them and follows track.ScanClock (see
// below); every shard then decodes the frames of the slot that may be its
// own and keeps its own: decoding on the caller's goroutine made it the
// bottleneck (2 shards were 8% faster than 1). Plain TCP and UDP frames
// over IP (most of them) are placed from their raw addresses
// (track.PairShard, the hash track.Shard takes of their packets): the
// other shards skip them undecoded; every shard decodes the others.
// track.Shard (a symmetric hash of the address pair a flow is
// keyed on: both directions, IPv4 fragments and their parent, ARP pairs,
// MAC pairs and tunnels' inner packets land on one shard) picks the shard
// of a packet's flow; an ICMP error is accounted there and mapped onto
// the flow it quotes on track.QuoteShard's shard. A table scans for
// status records and idle flows when packet time passes a second since
// its last scan; so that every shard scans when one table would (and
// reports the same records), track.ScanClock follows the whole stream and
// every shard gets those scan times (and decodes every frame at one). A
// frame that does not decode is counted by the shard it was placed on,
// else by shard 0. The shards emit their records as they make them, under one
// lock, so emit is never called concurrently (handing the 2.3 kB records
// to a writer goroutine instead cost 0.2 CPU-s more on 1 M packets).
// Records are in order within a shard; across shards the set of records
// is that of one table. A table numbers its flows 1, 2, 3...; shard i of
// n renumbers its k-th flow (k-1)·n+i+1, so sequence numbers stay unique
// per flow.
//
// Reading files, a full pipeline waits: nothing is dropped. Live
// (Options.Live), a batch that finds no free slot is dropped and counted
// (Stats.OurDrops), as the kernel drops when its ring is full.
//
// # MARs and counters
//
// The sensor writes a START MAR before the first record, a STATUS MAR
// every MarInterval (-M, ARGUS_MAR_STATUS_INTERVAL, default 60 s) of
// packet time, and a STOP MAR after the last record. Debian's argus
// 3.0.8.2 stamps MARs with its wall clock even reading a file, so that a
// file read in a second has no status MARs; packet time gives a file's
// MARs the times of its traffic, and is the wall clock live. A status or
// stop MAR's start time is the previous MAR's time, and its counters are
// the change since the previous MAR, as argus's: packets, bytes, records.
// flows is the flows in the tables when it is written. The other counters
// go where argus has a place for them:
//
//	dropped  frames lost to capture: the kernel's drops (the live source's
//	         statistics) and the sensor's own (Live, no free slot)
//	queue    flows ended early to keep the tables under
//	         Track.MaxMemory (track.Tracker.Forced, summed over shards)
//	bufs     frames that did not decode (Stats.Bad has them per reason)
//
// Stats returns every counter from any goroutine, and Collector exports
// them as Prometheus metrics.
package sensor
