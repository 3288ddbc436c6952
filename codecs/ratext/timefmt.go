package ratext

import (
	"strconv"
	"time"
)

var shortMonths = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
var shortDays = [...]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

// appendTime formats a time given in Unix microseconds like ra's
// ArgusPrintTime: epoch seconds with -u, else RA_TIME_FORMAT (strftime
// conversions plus %f, the fraction with -p digits).
func (p *Printer) appendTime(b []byte, usec int64) []byte {
	sec := usec / 1e6
	frac := usec % 1e6
	if frac < 0 {
		frac += 1e6
		sec--
	}
	f := p.tfmt
	if p.o.UnixTime || f == "%d" || f == "%u" || f == "%f" {
		b = strconv.AppendUint(b, uint64(uint32(sec)), 10)
		if p.tprec > 0 && f != "%d" {
			b = append(b, '.')
			b = appendFrac(b, frac, p.tprec)
		}
		return b
	}
	t := time.Unix(sec, 0).In(p.loc)
	for i := 0; i < len(f); i++ {
		if f[i] != '%' || i+1 == len(f) {
			b = append(b, f[i])
			continue
		}
		i++
		switch f[i] {
		case 'f':
			if p.tprec > 0 {
				for len(b) > 0 && isSpace(b[len(b)-1]) {
					b = b[:len(b)-1]
				}
				b = appendFrac(b, frac, p.tprec)
			} else if len(b) > 0 && b[len(b)-1] == '.' {
				b = b[:len(b)-1]
			}
		case '%':
			b = append(b, '%')
		case 'T':
			b = appendClock(b, t)
		case 'H':
			b = append2(b, t.Hour())
		case 'M':
			b = append2(b, t.Minute())
		case 'S':
			b = append2(b, t.Second())
		case 'Y':
			b = strconv.AppendInt(b, int64(t.Year()), 10)
		case 'y':
			b = append2(b, t.Year()%100)
		case 'm':
			b = append2(b, int(t.Month()))
		case 'd':
			b = append2(b, t.Day())
		case 'e':
			if t.Day() < 10 {
				b = append(b, ' ')
			}
			b = strconv.AppendInt(b, int64(t.Day()), 10)
		case 'j':
			d := t.YearDay()
			b = append(b, byte('0'+d/100))
			b = append2(b, d%100)
		case 'b', 'h':
			b = append(b, shortMonths[t.Month()-1]...)
		case 'a':
			b = append(b, shortDays[t.Weekday()]...)
		case 'D':
			b = append2(b, int(t.Month()))
			b = append(b, '/')
			b = append2(b, t.Day())
			b = append(b, '/')
			b = append2(b, t.Year()%100)
		case 'F':
			b = strconv.AppendInt(b, int64(t.Year()), 10)
			b = append(b, '-')
			b = append2(b, int(t.Month()))
			b = append(b, '-')
			b = append2(b, t.Day())
		case 'R':
			b = append2(b, t.Hour())
			b = append(b, ':')
			b = append2(b, t.Minute())
		case 's':
			b = strconv.AppendInt(b, sec, 10)
		case 'Z':
			name, _ := t.Zone()
			b = append(b, name...)
		case 'z':
			_, off := t.Zone()
			sign := byte('+')
			if off < 0 {
				sign, off = '-', -off
			}
			b = append(b, sign)
			b = append2(b, off/3600)
			b = append2(b, off%3600/60)
		case 'n':
			b = append(b, '\n')
		case 't':
			b = append(b, '\t')
		default:
			b = append(b, '%', f[i])
		}
	}
	return b
}

func appendClock(b []byte, t time.Time) []byte {
	h, m, s := t.Clock()
	b = append2(b, h)
	b = append(b, ':')
	b = append2(b, m)
	b = append(b, ':')
	return append2(b, s)
}

func append2(b []byte, v int) []byte {
	return append(b, byte('0'+v/10%10), byte('0'+v%10))
}

// appendFrac appends the first prec digits of a 6-digit microsecond
// fraction (truncated, as ra does).
func appendFrac(b []byte, frac int64, prec int) []byte {
	var d [6]byte
	for i := 5; i >= 0; i-- {
		d[i] = byte('0' + frac%10)
		frac /= 10
	}
	if prec > 6 {
		prec = 6
	}
	return append(b, d[:prec]...)
}
