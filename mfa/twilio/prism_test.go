package twilio

// A harness for Stoplight Prism in proxy mode, which checks the requests
// the client sends and the answers the fake gives against Twilio's
// published OpenAPI description (/work/shared/twilio-openapi, outside the
// repository: see its README).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const prismHint = "install it with `make deps` (.ci/ensure-prism), or " +
	"`npm install --prefix ~/.cache/latchkey/prism @stoplight/prism-cli@5.14.2`, " +
	"or set LATCHKEY_PRISM to a prism binary"

// prismStartTimeout bounds one Prism start. Warm it takes 1-2 s; the first
// start on a loaded machine has been seen to take half a minute (Node
// compiles Prism and parses the 1 MB API description).
const prismStartTimeout = 3 * time.Minute

var errNoPrism = errors.New("prism not found")

// prismPath returns $LATCHKEY_PRISM when set (and nothing else then), else
// the binary .ci/ensure-prism installs, else prism on $PATH.
func prismPath() (string, error) {
	if p := os.Getenv("LATCHKEY_PRISM"); p != "" {
		if err := executable(p); err != nil {
			return "", fmt.Errorf("LATCHKEY_PRISM=%s: %w: %w", p, errNoPrism, err)
		}
		return p, nil
	}
	if dir, err := os.UserCacheDir(); err == nil { // $XDG_CACHE_HOME or ~/.cache, as ensure-prism uses
		p := filepath.Join(dir, "latchkey", "prism", "node_modules", ".bin", "prism")
		if executable(p) == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("prism"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("no ~/.cache/latchkey/prism and none on $PATH: %w", errNoPrism)
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file: %w", p, fs.ErrPermission)
	}
	return nil
}

// requirePrism returns Prism and the directory of Twilio's API descriptions,
// or ends the test: t.Fatal under CI=true (CI must not silently lose its
// contract tests), t.Skip elsewhere.
func requirePrism(t *testing.T) (prism, specs string) {
	t.Helper()
	end := t.Skipf
	if os.Getenv("CI") == "true" {
		end = t.Fatalf
	}
	prism, err := prismPath()
	if err != nil {
		end("contract test needs Prism: %v; %s", err, prismHint)
	}
	specs, err = specDir()
	if err != nil {
		end("contract test needs Twilio's OpenAPI descriptions: %v", err)
	}
	return prism, specs
}

// specDir finds ../shared/twilio-openapi next to the module root (the test
// runs in mfa/twilio); LATCHKEY_TWILIO_OPENAPI overrides it.
func specDir() (string, error) {
	if d := os.Getenv("LATCHKEY_TWILIO_OPENAPI"); d != "" {
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			specs := filepath.Join(dir, "..", "shared", "twilio-openapi")
			if _, err := os.Stat(filepath.Join(specs, "twilio_api_v2010.json")); err != nil {
				return "", fmt.Errorf("no Twilio API descriptions next to the module: %w", err)
			}
			return specs, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// prismProxy is one running `prism proxy`.
type prismProxy struct {
	URL     string
	Startup time.Duration
	cmd     *exec.Cmd
	out     *lockedBuffer
}

// startPrism runs `prism proxy spec upstream --errors` on a free port and
// waits until it answers. It is stopped (its process group killed) when
// the test ends. Safe to call from several goroutines.
func startPrism(t *testing.T, prism, spec, upstream string) (*prismProxy, error) {
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("free port: %w", err)
	}
	p := &prismProxy{URL: "http://127.0.0.1:" + port, out: &lockedBuffer{}}
	p.cmd = exec.Command(prism, "proxy", spec, upstream, "-h", "127.0.0.1", "-p", port, "--errors")
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.Env = append(os.Environ(), "NO_COLOR=1")
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start prism: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) // the group we created
		<-exited
		if t.Failed() {
			t.Logf("prism %s output:\n%s", filepath.Base(spec), p.out.tail(4000))
		}
	})

	ctx, cancel := context.WithTimeout(t.Context(), prismStartTimeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			p.Startup = time.Since(start)
			return p, nil
		}
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			return nil, fmt.Errorf("prism %s exited before answering: %v\n%s", filepath.Base(spec), err, p.out.tail(4000))
		case <-ctx.Done():
			return nil, fmt.Errorf("prism %s did not answer within %s\n%s", filepath.Base(spec), prismStartTimeout, p.out.tail(4000))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 { // keep the newest megabyte at most
		l.b.Next(l.b.Len() - 1<<19)
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}

// contractCheck records every contract violation Prism reports: a 422 (the
// request broke Twilio's contract and never reached the fake), a 500 of
// Prism's own (the fake's answer broke it), and any error-severity entry
// in the sl-violations header. Warnings (such as an error status the
// description does not list) are allowed: Twilio documents its 4xx answers
// outside the OpenAPI description.
type contractCheck struct {
	next http.RoundTripper

	mu         sync.Mutex
	violations []string
	statuses   []int
}

type prismViolation struct {
	Location []string `json:"location"`
	Severity string   `json:"severity"`
	Message  string   `json:"message"`
}

func (c *contractCheck) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	var found []string
	if h := resp.Header.Get("sl-violations"); h != "" {
		var vs []prismViolation
		if err := json.Unmarshal([]byte(h), &vs); err != nil {
			found = append(found, "unreadable sl-violations header: "+h)
		}
		for _, v := range vs {
			if !strings.EqualFold(v.Severity, "warning") {
				found = append(found, fmt.Sprintf("%s %s: %s: %s", req.Method, req.URL.Path, strings.Join(v.Location, "."), v.Message))
			}
		}
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if bytes.Contains(body, []byte("stoplight.io/prism/errors")) {
			found = append(found, fmt.Sprintf("%s %s: Prism answered %d: %s", req.Method, req.URL.Path, resp.StatusCode, body))
		}
	}
	c.mu.Lock()
	c.violations = append(c.violations, found...)
	c.statuses = append(c.statuses, resp.StatusCode)
	c.mu.Unlock()
	return resp, nil
}

// verify fails the test for each violation seen so far and forgets them.
func (c *contractCheck) verify(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, v := range c.violations {
		t.Errorf("contract violation: %s", v)
	}
	c.violations = nil
}

func (c *contractCheck) seen() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.statuses...)
}
