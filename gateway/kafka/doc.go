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
