package client

import (
	"io"
	"net/http"
	"sync"
)

// maxSizedReply bounds the buffer readReply allocates from a reply's
// Content-Length; longer replies are read as they come.
const maxSizedReply = 1 << 20

// maxPooledReply bounds the buffers kept in replyBufs.
const maxPooledReply = 16 << 10

// replyBufs holds the buffers replies are read into before they are
// decoded. Every decoder copies what it keeps (decodeJob its one string,
// json.Unmarshal its values, newAPIError its message), so a buffer is
// free again once its reply is decoded; a raw reply (request.raw) is the
// caller's and is never read into one.
var replyBufs = sync.Pool{New: func() any { return new([]byte) }}

// readReply reads a reply's body whole: into buf when the hub said its
// length and buf holds it, into a new buffer of that length when it does
// not, else growing as io.ReadAll does.
func readReply(resp *http.Response, buf []byte) ([]byte, error) {
	n := resp.ContentLength
	if n < 0 || n > maxSizedReply {
		return io.ReadAll(resp.Body)
	}
	data := buf[:0]
	if int64(cap(buf)) < n {
		data = make([]byte, n)
	}
	data = data[:n]
	if _, err := io.ReadFull(resp.Body, data); err != nil {
		return nil, err
	}
	return data, nil
}

// replyBuf is a buffer from replyBufs (nil for a raw reply) and its
// release once the reply it held is decoded.
type replyBuf struct{ p *[]byte }

func getReplyBuf(raw bool) replyBuf {
	if raw {
		return replyBuf{}
	}
	return replyBuf{replyBufs.Get().(*[]byte)}
}

func (b replyBuf) buf() []byte {
	if b.p == nil {
		return nil
	}
	return *b.p
}

// release returns the buffer, or data if the read grew a new one within
// the pool's bound, to replyBufs.
func (b replyBuf) release(data []byte) {
	if b.p == nil {
		return
	}
	if cap(data) > cap(*b.p) && cap(data) <= maxPooledReply {
		*b.p = data[:0]
	}
	replyBufs.Put(b.p)
}
