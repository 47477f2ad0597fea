package apply

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/dnsmigrate/dnsmigrate/spec"
)

// HealthResult is one round of health checks.
type HealthResult struct {
	OK      bool
	Summary string
	Details []string
}

// checkHealth runs every check once. HTTP checks follow no redirect and
// trust the system's CA pool; TCP checks only connect.
func checkHealth(ctx context.Context, checks []spec.HealthCheck) HealthResult {
	res := HealthResult{OK: true}
	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, h := range checks {
		var detail string
		ok := false
		switch h.Type {
		case "http":
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL, nil)
			if err == nil {
				var resp *http.Response
				resp, err = client.Do(req)
				if err == nil {
					resp.Body.Close()
					ok = resp.StatusCode == h.ExpectStatus
					detail = fmt.Sprintf("GET %s: %d (want %d)", h.URL, resp.StatusCode, h.ExpectStatus)
				}
			}
			if err != nil {
				detail = fmt.Sprintf("GET %s: %v", h.URL, err)
			}
		case "tcp":
			d := net.Dialer{Timeout: 5 * time.Second}
			conn, err := d.DialContext(ctx, "tcp", h.Address)
			if err == nil {
				conn.Close()
				ok = true
				detail = "connect " + h.Address + ": ok"
			} else {
				detail = fmt.Sprintf("connect %s: %v", h.Address, err)
			}
		}
		if !ok {
			res.OK = false
		}
		res.Details = append(res.Details, detail)
	}
	res.Summary = strings.Join(res.Details, "; ")
	if len(checks) == 0 {
		res.Summary = "no health checks configured"
	}
	return res
}
