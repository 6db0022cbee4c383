package sqlite

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

func benchMixed(b *testing.B, s storage.Store) {
	ctx := b.Context()
	var n atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(10)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			sig := fmt.Sprint("sig", i)
			tok := storage.Token{Kind: storage.KindAuthorizeCode, Signature: sig, RequestID: sig, Active: true,
				RequestedAt: time.Now(), ExpiresAt: time.Now().Add(time.Minute), Data: make([]byte, 512)}
			if err := s.CreateToken(ctx, tok); err != nil {
				b.Error(err)
				continue
			}
			if _, err := s.GetToken(ctx, tok.Kind, sig); err != nil {
				b.Error(err)
			}
			t0 := time.Now()
			if err := s.DeactivateToken(ctx, tok.Kind, sig); err != nil {
				b.Error(err)
			}
			d := time.Since(t0)
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
			if _, err := s.RecordFailure(ctx, fmt.Sprint("k", i%7), time.Now(), time.Hour); err != nil {
				b.Error(err)
			}
		}
	})
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-us")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-us")
}

// BenchmarkConcurrentWrites: 20 goroutines (on 2 CPUs) each issue a code,
// read it, use it up and count a failure. It reports the tail latency of
// DeactivateToken, the figure the single-writer design is for.
func BenchmarkConcurrentWrites(b *testing.B) { benchMixed(b, newStore(b)) }
