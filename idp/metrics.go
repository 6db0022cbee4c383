package idp

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the provider's Prometheus metrics, on a registry of their own
// (no global state).
type Metrics struct {
	Registry    *prometheus.Registry
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	signIns     *prometheus.CounterVec
	tokens      *prometheus.CounterVec
	tokenErrors *prometheus.CounterVec

	// Phone codes. Delivery rate is delivered / sent and conversion
	// verified / sent, both per channel, in PromQL.
	phoneSent      *prometheus.CounterVec
	phoneDelivered *prometheus.CounterVec
	phoneVerified  *prometheus.CounterVec
	phoneCallbacks *prometheus.CounterVec
	phoneSpend     *prometheus.CounterVec

	// Push approval: outcomes (sent, delivered, approved, denied, not_me,
	// timed_out, failed, wrong_number, budget) and fallbacks by reason.
	pushes        *prometheus.CounterVec
	pushFallbacks *prometheus.CounterVec
}

// NewMetrics registers the metrics on reg (a new registry if nil).
func NewMetrics(reg *prometheus.Registry) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Metrics{
		Registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_http_requests_total", Help: "HTTP requests by route and status.",
		}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "latchkey_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		signIns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_sign_ins_total", Help: "Password sign-ins by outcome.",
		}, []string{"outcome"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_tokens_issued_total", Help: "Token responses by grant type.",
		}, []string{"grant_type"}),
		tokenErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_token_errors_total", Help: "Token endpoint errors by OAuth error code.",
		}, []string{"error"}),
		phoneSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_phone_codes_sent_total", Help: "SMS and voice codes by channel, country and outcome (sent, failed, budget).",
		}, []string{"channel", "country", "outcome"}),
		phoneDelivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_phone_deliveries_total", Help: "Final delivery statuses the carrier reported, by channel, country and status.",
		}, []string{"channel", "country", "status"}),
		phoneVerified: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_phone_codes_verified_total", Help: "Phone codes entered correctly, by the channel that carried them.",
		}, []string{"channel"}),
		phoneCallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_phone_callbacks_total", Help: "Carrier status callbacks by result (ok, unknown, forged).",
		}, []string{"result"}),
		phoneSpend: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_phone_spend_total", Help: "What the carrier reported charging, by channel and currency.",
		}, []string{"channel", "unit"}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_pushes_total", Help: "Push approvals by outcome (sent, delivered, approved, denied, not_me, timed_out, failed, wrong_number, budget).",
		}, []string{"outcome"}),
		pushFallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_push_fallbacks_total", Help: "Sign-ins moved from push to the next factor, by reason.",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.requests, m.latency, m.signIns, m.tokens, m.tokenErrors,
		m.phoneSent, m.phoneDelivered, m.phoneVerified, m.phoneCallbacks, m.phoneSpend, m.pushes, m.pushFallbacks)
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// instrument counts and times one route; the route label is the pattern, so
// cardinality stays bounded whatever paths clients send.
func (m *Metrics) instrument(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		m.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
		m.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
