package toxiproxy

import (
	"fmt"
	"sync/atomic"
	"time"

	tp "github.com/Shopify/toxiproxy/v2/client"
)

// Stream says which direction of a proxied connection a toxic acts on.
type Stream string

const (
	// Upstream is what the client sends towards the server (commands,
	// request bodies).
	Upstream Stream = "upstream"
	// Downstream is what the server sends back to the client (replies).
	// A toxic here lets a command reach the server and run, and spoils
	// its reply.
	Downstream Stream = "downstream"
)

// Proxy is one proxy of a Server: it listens on a loopback port of its own
// and forwards every connection to its upstream address, through the
// toxics added to it.
type Proxy struct {
	p   *tp.Proxy
	seq atomic.Int64
}

// NewProxy creates a proxy named name that listens on a free port of
// 127.0.0.1 and forwards to upstream ("host:port"), enabled and without
// toxics. Point the client at its Addr instead of upstream.
func (s *Server) NewProxy(name, upstream string) (*Proxy, error) {
	p, err := s.client.CreateProxy(name, "127.0.0.1:0", upstream)
	if err != nil {
		return nil, fmt.Errorf("toxiproxy: create proxy %s to %s: %w", name, upstream, err)
	}
	return &Proxy{p: p}, nil
}

// Addr returns the "127.0.0.1:PORT" the proxy listens on.
func (p *Proxy) Addr() string { return p.p.Listen }

// Name returns the proxy's name.
func (p *Proxy) Name() string { return p.p.Name }

// Upstream returns the address the proxy forwards to.
func (p *Proxy) Upstream() string { return p.p.Upstream }

// Client returns toxiproxy's own client proxy, for what this type does not
// wrap.
func (p *Proxy) Client() *tp.Proxy { return p.p }

// Toxic adds a toxic of type kind ("latency", "reset_peer", …; toxiproxy's
// README lists them and their attributes) on stream, acting on the given
// fraction of connections (1 for all), and returns its name for Remove.
func (p *Proxy) Toxic(kind string, stream Stream, toxicity float32, attrs tp.Attributes) (string, error) {
	name := fmt.Sprintf("%s_%s_%d", kind, stream, p.seq.Add(1))
	if _, err := p.p.AddToxic(name, kind, string(stream), toxicity, attrs); err != nil {
		return "", fmt.Errorf("toxiproxy: add %s to %s: %w", name, p.p.Name, err)
	}
	return name, nil
}

// Latency delays every chunk of data on stream by delay, plus or minus
// jitter.
func (p *Proxy) Latency(stream Stream, delay, jitter time.Duration) (string, error) {
	return p.Toxic("latency", stream, 1, tp.Attributes{"latency": delay.Milliseconds(), "jitter": jitter.Milliseconds()})
}

// ResetPeer resets every connection (TCP RST) after timeout once data
// arrives on stream; a zero timeout resets at once.
func (p *Proxy) ResetPeer(stream Stream, timeout time.Duration) (string, error) {
	return p.Toxic("reset_peer", stream, 1, tp.Attributes{"timeout": timeout.Milliseconds()})
}

// LimitData closes each connection once n bytes have passed on stream.
// On Downstream in front of Redis, a command whose reply crosses the limit
// has run on the server while its client sees the connection close, which
// is how a lost reply (and the client's retry) is made.
func (p *Proxy) LimitData(stream Stream, n int64) (string, error) {
	return p.Toxic("limit_data", stream, 1, tp.Attributes{"bytes": n})
}

// Bandwidth limits stream to kbps kilobytes per second.
func (p *Proxy) Bandwidth(stream Stream, kbps int64) (string, error) {
	return p.Toxic("bandwidth", stream, 1, tp.Attributes{"rate": kbps})
}

// Timeout stops all data on stream, and closes the connection after
// timeout; a zero timeout holds it open, silent, until the toxic is removed.
func (p *Proxy) Timeout(stream Stream, timeout time.Duration) (string, error) {
	return p.Toxic("timeout", stream, 1, tp.Attributes{"timeout": timeout.Milliseconds()})
}

// Remove removes the toxic named name.
func (p *Proxy) Remove(name string) error {
	if err := p.p.RemoveToxic(name); err != nil {
		return fmt.Errorf("toxiproxy: remove %s from %s: %w", name, p.p.Name, err)
	}
	return nil
}

// Clear removes every toxic of the proxy.
func (p *Proxy) Clear() error {
	toxics, err := p.p.Toxics()
	if err != nil {
		return fmt.Errorf("toxiproxy: list toxics of %s: %w", p.p.Name, err)
	}
	for _, t := range toxics {
		if err := p.Remove(t.Name); err != nil {
			return err
		}
	}
	return nil
}

// Partition disables the proxy: it closes every connection through it and
// refuses new ones until Heal, as a network partition between the client
// and the upstream would.
func (p *Proxy) Partition() error {
	if err := p.p.Disable(); err != nil {
		return fmt.Errorf("toxiproxy: disable %s: %w", p.p.Name, err)
	}
	return nil
}

// Heal enables the proxy again after Partition, on the same address.
func (p *Proxy) Heal() error {
	if err := p.p.Enable(); err != nil {
		return fmt.Errorf("toxiproxy: enable %s: %w", p.p.Name, err)
	}
	return nil
}
