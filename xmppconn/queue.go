package xmppconn

import "sync"

// outQueue is the bounded FIFO of chat messages waiting to be written.
// A message leaves the queue only after it was written to a live session;
// a failed write leaves it at the front, so order is kept across reconnects.
type outQueue struct {
	mu    sync.Mutex
	items []*outMessage
	limit int
	// ready is signalled (without blocking) when an item is pushed.
	ready chan struct{}
	// empty is closed and replaced whenever the queue becomes empty.
	emptyC chan struct{}
}

func newOutQueue(limit int) *outQueue {
	q := &outQueue{limit: limit, ready: make(chan struct{}, 1), emptyC: make(chan struct{})}
	close(q.emptyC)
	return q
}

// push appends m, or returns ErrQueueFull.
func (q *outQueue) push(m *outMessage) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) >= q.limit {
		return ErrQueueFull
	}
	if len(q.items) == 0 {
		q.emptyC = make(chan struct{})
	}
	q.items = append(q.items, m)
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return nil
}

// front returns the oldest message without removing it.
func (q *outQueue) front() (*outMessage, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return nil, false
	}
	return q.items[0], true
}

// pop removes m if it is still the oldest message.
func (q *outQueue) pop(m *outMessage) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 || q.items[0] != m {
		return
	}
	q.items[0] = nil
	q.items = q.items[1:]
	if len(q.items) == 0 {
		q.items = nil
		close(q.emptyC)
	}
}

// requeue puts msgs back at the front, in their order, before everything
// queued; a message still in the queue is not added twice. The limit does
// not apply: these messages were accepted before. It returns how many were
// put back.
func (q *outQueue) requeue(msgs []*outMessage) int {
	if len(msgs) == 0 {
		return 0
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	in := make(map[*outMessage]bool, len(q.items))
	for _, m := range q.items {
		in[m] = true
	}
	front := make([]*outMessage, 0, len(msgs)+len(q.items))
	for _, m := range msgs {
		if !in[m] {
			front = append(front, m)
			in[m] = true
		}
	}
	n := len(front)
	if n == 0 {
		return 0
	}
	if len(q.items) == 0 {
		q.emptyC = make(chan struct{})
	}
	q.items = append(front, q.items...)
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return n
}

func (q *outQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// empty returns a channel closed once the queue is empty.
func (q *outQueue) empty() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.emptyC
}
