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
package sensor
