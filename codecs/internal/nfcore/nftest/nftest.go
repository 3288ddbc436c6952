// Package nftest has helpers for the NetFlow/IPFIX tests: a pcap reader
// for export captures (UDP payloads and their sources) and the nfdump CSV
// reader. Test support only; it is not used by the codecs.
package nftest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// Datagram is one UDP payload of a capture.
type Datagram struct {
	Time    time.Time
	From    netip.AddrPort
	Payload []byte
}

// ReadPcapUDP returns the UDP payloads of a classic pcap file (Ethernet,
// raw IP or Linux cooked link types; IPv4 or IPv6).
func ReadPcapUDP(path string) ([]Datagram, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 24 {
		return nil, errors.New("pcap: short file")
	}
	var bo binary.ByteOrder
	nano := false
	switch binary.LittleEndian.Uint32(b) {
	case 0xa1b2c3d4:
		bo = binary.LittleEndian
	case 0xa1b23c4d:
		bo, nano = binary.LittleEndian, true
	default:
		switch binary.BigEndian.Uint32(b) {
		case 0xa1b2c3d4:
			bo = binary.BigEndian
		case 0xa1b23c4d:
			bo, nano = binary.BigEndian, true
		default:
			return nil, errors.New("pcap: not a classic pcap file")
		}
	}
	link := bo.Uint32(b[20:])
	var out []Datagram
	for p := 24; p+16 <= len(b); {
		sec, frac := bo.Uint32(b[p:]), bo.Uint32(b[p+4:])
		incl := int(bo.Uint32(b[p+8:]))
		p += 16
		if p+incl > len(b) {
			break
		}
		pkt := b[p : p+incl]
		p += incl
		ns := int64(frac) * 1000
		if nano {
			ns = int64(frac)
		}
		var ip []byte
		switch link {
		case 1: // Ethernet
			if len(pkt) < 14 {
				continue
			}
			et, q := binary.BigEndian.Uint16(pkt[12:]), 14
			for (et == 0x8100 || et == 0x88a8) && len(pkt) >= q+4 {
				et, q = binary.BigEndian.Uint16(pkt[q+2:]), q+4
			}
			ip = pkt[q:]
		case 101, 12, 14: // raw IP
			ip = pkt
		case 113: // Linux cooked
			if len(pkt) < 16 {
				continue
			}
			ip = pkt[16:]
		case 0: // BSD loopback
			if len(pkt) < 4 {
				continue
			}
			ip = pkt[4:]
		default:
			return nil, fmt.Errorf("pcap: link type %d", link)
		}
		d, ok := udp(ip)
		if !ok {
			continue
		}
		d.Time = time.Unix(int64(sec), ns)
		out = append(out, d)
	}
	return out, nil
}

func udp(ip []byte) (Datagram, bool) {
	if len(ip) < 20 {
		return Datagram{}, false
	}
	var src netip.Addr
	var l4 []byte
	switch ip[0] >> 4 {
	case 4:
		hl := int(ip[0]&15) * 4
		tot := int(binary.BigEndian.Uint16(ip[2:]))
		if ip[9] != 17 || hl < 20 || tot > len(ip) || tot < hl+8 {
			return Datagram{}, false
		}
		src = netip.AddrFrom4([4]byte(ip[12:16]))
		l4 = ip[hl:tot]
	case 6:
		if len(ip) < 48 || ip[6] != 17 {
			return Datagram{}, false
		}
		src = netip.AddrFrom16([16]byte(ip[8:24]))
		pl := int(binary.BigEndian.Uint16(ip[4:]))
		if 40+pl > len(ip) {
			return Datagram{}, false
		}
		l4 = ip[40 : 40+pl]
	default:
		return Datagram{}, false
	}
	ul := int(binary.BigEndian.Uint16(l4[4:]))
	if ul < 8 || ul > len(l4) {
		return Datagram{}, false
	}
	return Datagram{From: netip.AddrPortFrom(src, binary.BigEndian.Uint16(l4)), Payload: l4[8:ul]}, true
}

// NfdumpRow is one flow of `nfdump -o csv`.
type NfdumpRow map[string]string

// ReadNfdumpCSV reads the flow lines of `nfdump -o csv` output (up to the
// Summary line).
func ReadNfdumpCSV(path string) ([]NfdumpRow, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) == 0 {
		return nil, errors.New("nfdump csv: empty")
	}
	head := strings.Split(lines[0], ",")
	var rows []NfdumpRow
	for _, l := range lines[1:] {
		if l == "" || strings.HasPrefix(l, "Summary") {
			break
		}
		if !strings.Contains(l, ",") {
			continue // "No matching flows"
		}
		f := strings.Split(l, ",")
		r := NfdumpRow{}
		for i, h := range head {
			if i < len(f) {
				r[h] = strings.TrimSpace(f[i])
			}
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// Uint returns a numeric column.
func (r NfdumpRow) Uint(k string) uint64 {
	v, _ := strconv.ParseUint(r[k], 10, 64)
	return v
}

// Flags turns nfdump's flag string ("...AP.SF": C E U A P R S F) into
// TCP flag bits.
func (r NfdumpRow) Flags() uint8 {
	s := r["flg"]
	var f uint8
	for i := 0; i < len(s) && i < 8; i++ {
		if s[i] != '.' {
			f |= 1 << (7 - i)
		}
	}
	return f
}

// Proto returns the protocol number of nfdump's protocol name.
func (r NfdumpRow) Proto() uint8 {
	switch r["pr"] {
	case "TCP":
		return 6
	case "UDP":
		return 17
	case "ICMP":
		return 1
	case "ICMP6":
		return 58
	case "IGMP":
		return 2
	}
	v, _ := strconv.ParseUint(r["pr"], 10, 8)
	return uint8(v)
}

// Start returns the ts column (nfdump prints whole seconds, local time
// of the capture machine: UTC).
func (r NfdumpRow) Start() (time.Time, error) {
	return time.Parse("2006-01-02 15:04:05", r["ts"])
}

// DurationMs returns td in milliseconds.
func (r NfdumpRow) DurationMs() float64 {
	v, _ := strconv.ParseFloat(r["td"], 64)
	return v * 1000
}
