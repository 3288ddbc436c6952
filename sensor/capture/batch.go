package capture

// BatchSource is a Source that also reads frames in batches. The data of
// every frame of a batch stays valid until the next ReadFrames, ReadFrame
// or Close call, so a consumer can decode a whole batch before it tracks
// any of it. The two calls may be mixed.
//
// The sources of OpenFile, OpenFiles, NewReader, OpenLive and WithRange
// (over one of them) are BatchSources whose batches copy nothing: frames
// alias the mapped file, the read buffer (a batch then ends early rather
// than move it) or the kernel ring (its blocks go back to the kernel at
// the next call). A batch may hold fewer frames than asked even before the
// end: it never waits for more once it has one.
type BatchSource interface {
	Source
	// ReadFrames fills fs from the start and returns how many frames it
	// filled. It returns n > 0 with a nil error, or n == 0 with an error
	// (io.EOF at the end, ErrTimeout on an idle live link).
	ReadFrames(fs []Frame) (int, error)
}

// Batch returns src as a BatchSource: src itself when it is one,
// otherwise a wrapper that copies each frame's data into a reused arena
// (for Sources of other packages).
func Batch(src Source) BatchSource {
	if b, ok := src.(BatchSource); ok {
		return b
	}
	return &copyBatch{Source: src}
}

// copyBatch batches a Source whose frames alias its buffer until the next
// read: it copies the data into an arena reused from batch to batch.
type copyBatch struct {
	Source
	arena []byte
	err   error // met after a partial batch
}

func (b *copyBatch) ReadFrames(fs []Frame) (int, error) {
	if err := b.err; err != nil {
		b.err = nil
		return 0, err
	}
	b.arena = b.arena[:0]
	for n := range fs {
		f := &fs[n]
		err := b.ReadFrame(f)
		if err != nil {
			if n > 0 {
				b.err = err // the next call reports it
				return n, nil
			}
			return 0, err
		}
		if cap(b.arena)-len(b.arena) < len(f.Data) {
			if n > 0 {
				// No room: the arena must not move under earlier frames.
				// Keep this frame's data out of line.
				f.Data = append([]byte(nil), f.Data...)
				continue
			}
			b.arena = make([]byte, 0, max(1<<20, 2*len(f.Data)))
		}
		off := len(b.arena)
		b.arena = append(b.arena, f.Data...)
		f.Data = b.arena[off:len(b.arena):len(b.arena)]
	}
	return len(fs), nil
}
