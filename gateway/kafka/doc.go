// Package kafka produces flow records to a Kafka topic and consumes them
// back, with github.com/twmb/franz-go (kgo).
//
// # Messages
//
// One flow record per message. The value's format is named by headers:
//
//	fg-format   "json" or "argus5" (required; a message without it is malformed)
//	fg-dialect  the jsonl dialect of a "json" value (argus, ecs, goflow2,
//	            nfdump, ipfix); absent means argus
//	fg-mapping  the mapping version the producer was configured with
//	            (ProducerConfig.MappingVersion), so values written under an
//	            older mapping can be told apart; absent when not set
//
// A "json" value is one line of codecs/jsonl in the dialect, newline
// included. A consumer decodes every object in the value, so a producer
// may batch lines, but one malformed object rejects the whole message.
//
// An "argus5" value is one Argus 5.x record (header, DSRs) with no stream
// header: an Argus stream starts with a 128-byte MAR (management record)
// that says the version and describes the sensor, which would be repeated
// in every message for no information. The producer's codecs/argus Writer
// synthesises that MAR before the first record; the producer drops it, and
// it never publishes management records it is given (counted as Skipped).
// The consumer decodes each value with a RecordDecoder bound to a stream
// made of one synthetic 5.x MAR, after checking that the record's length
// field equals the message length. A record that needs the original MAR
// (its sensor identity) carries it in its own transport DSR, as Argus 5
// records do. To rebuild a file from a topic, write the records with an
// argus.Writer, which synthesises a MAR again.
//
// # Keys
//
// KeyExporter: the exporter address as text ("192.0.2.1", no port), so one
// exporter's records stay in one partition, in order; records without an
// exporter (Argus-native ones) get no key. KeyFlow: FlowKeyBytes, a stable
// 74-byte big-endian encoding of flow.Key (Key.Hash is seeded per process
// and cannot be shared between producers). KeyNone: no key, kgo's default
// partitioner (uniform bytes) spreads batches.
//
// # Delivery
//
// The producer is idempotent (kgo's default) with acks=all, compression
// lz4 by default (zstd, snappy, gzip, none) and optional linger and batch
// size. Produce queues and returns encode errors (*EncodeError; counted as
// Failed); Flush waits for every acknowledgement and returns the first
// delivery error since the previous Flush. ProducerStats counts Produced
// (acknowledged), Failed, Skipped and Lossy (JSON lines written without a
// value the dialect cannot hold).
//
// # Security
//
// Security (ProducerConfig and ConsumerConfig) adds TLS (CA file or the
// system roots, optional client certificate, verification on unless
// InsecureSkipVerify) and SASL PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
// (franz-go's pkg/sasl), with the password from PasswordFile preferably.
// TLS without SASL, SASL without TLS (PLAIN then sends the password in
// clear) and both are accepted, as brokers allow.
//
// # Spill
//
// With ProducerConfig.Spill set, a record that cannot reach the broker is
// written to a bounded on-disk queue (spill.go has the file format:
// segments of length-prefixed, CRC-32C-checked entries) and sent from
// there when the broker is back, before any newer record. The producer
// starts spilling when kgo fails a record (its delivery timeout,
// SpillAfter, for records never sent), when kgo holds MaxBuffered records
// for SpillAfter, or when records are held and none is acknowledged for
// SpillAfter (a broker gone mid-request: kgo cannot time out a batch the
// broker may have written, it holds it until the broker answers). Ready
// returns ErrSpilling meanwhile.
//
// Two queues: "retry" takes what kgo failed, in kgo's promise order, and
// is not bounded (kgo's buffer bounds it); "main" takes new records while
// spilling, bounded by SpillMax: full, Produce blocks until the drain
// makes room (ctx bounds the wait) or, with SpillDrop, drops the record
// and counts it (Dropped, and ProduceEach names it). A drainer sends retry
// then main in windows of up to 16384 records (8 MiB, one read); a window
// is removed from its queue only when all of it was acknowledged,
// otherwise it is sent again whole (Resent counts the acknowledged ones,
// which are then duplicates). A record the broker refuses for good (too
// large for a batch, invalid) is not spilled, and one found in a window is
// dropped: both are counted Failed, as retrying cannot help.
// The producer goes direct again when both queues are empty and kgo holds
// nothing.
//
// Order: per partition (hence per key), records reach the topic in the
// order Produce got them, apart from duplicates of a resent window. Held
// records stay in kgo ahead of drained ones of their partition (one
// client, per-partition FIFO); failed ones were handed to kgo before
// anything was spilled to main. The one exception: a record kgo fails
// after it held it while drained records of its partition were acked (the
// broker answered with an error after its return); it is sent again from
// retry, after them. Across partitions there is no order, as in Kafka.
//
// Durability: a restart drains leftover segments first (the cursor file
// saves how far the oldest was drained; without it, that part is sent
// again: duplicates, not loss). Close drains while its ctx allows, then
// puts what kgo still holds into retry and syncs the files; Close returns
// ErrSpilling if records are left. Writes are buffered and fsynced at
// segment rotation and Close: the spill survives the process's death
// (including the last buffer only if Flush ran), not the machine's. Corrupt
// or truncated entries are skipped, counted (Corrupt) and reported as
// *SpillError with the file and offset. A drained message's Kafka
// timestamp is the drain time (kgo times records out from it); the flow's
// times are in the value. One directory belongs to one producer: it is
// flocked (LOCK; on Unix), and a second producer on it fails to start
// (ErrConfig) rather than drain the first one's records into its topic.
// ProduceEach and ProduceRawEach both go through the spill. The ctx of a
// Produce call bounds its waits only, not the records' life in kgo.
//
// The consumer joins a group with the cooperative-sticky balancer and
// commits nothing automatically: after a poll it decodes the messages,
// hands the records to the Handler, and commits the polled offsets only
// when the handler returned nil (at-least-once). Rebalances wait until the
// commit (kgo.BlockRebalanceOnPoll), so a revoked partition's records are
// never handled by two members at once except after a failure. A handler
// error retries the same batch (Retries times, backoff from 50 ms, counted
// as Retries); then Run returns ErrHandler without committing and the group
// redelivers the batch to whoever owns the partitions next. Malformed
// messages are counted, reported as *MessageError (topic, partition,
// offset, format) through OnError, and committed with the rest: a poison
// message does not stall its partition.
package kafka
