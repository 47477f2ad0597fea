package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Proc is one server process the lab started, tracked by PID. The config
// path makes sure a recycled PID is never taken for ours.
type Proc struct {
	PID    int      `json:"pid"`
	Args   []string `json:"args"`
	Config string   `json:"config"`
}

// start launches a server in its own session, so that Ctrl-C at the
// terminal that ran `migrate lab up` does not reach it, with its stdout and
// stderr in dir/stdio.log.
func start(dir string, config string, args ...string) (Proc, error) {
	logf, err := os.OpenFile(filepath.Join(dir, "stdio.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return Proc{}, fmt.Errorf("lab: open log in %s: %w", dir, err)
	}
	defer logf.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return Proc{}, fmt.Errorf("lab: start %s: %w", args[0], err)
	}
	// Reap it whenever it ends, so a stopped server does not linger as a
	// zombie that still looks alive.
	go func() { _ = cmd.Wait() }()
	return Proc{PID: cmd.Process.Pid, Args: args, Config: config}, nil
}

// alive reports whether p is still our running server.
func (p Proc) alive() bool {
	if p.PID <= 0 {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(p.PID) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	if i := bytes.LastIndexByte(stat, ')'); i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' {
		return false
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(p.PID) + "/cmdline")
	if err != nil {
		return false
	}
	return strings.Contains(string(cmdline), p.Config)
}

// stop ends p: SIGTERM, then SIGKILL if it is still there after a grace
// period. Stopping a process that is already gone is not an error.
func (p Proc) stop(ctx context.Context) error {
	if !p.alive() {
		return nil
	}
	if err := syscall.Kill(p.PID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("lab: stop pid %d: %w", p.PID, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.alive() {
		if time.Now().After(deadline) {
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
			deadline = time.Now().Add(5 * time.Second)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// runInput runs a command with input on its stdin, as run does.
func runInput(ctx context.Context, input string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin = strings.NewReader(input)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("lab: %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// run executes a short helper command (rndc, unbound-control, ip) and
// returns its combined output in the error.
func run(ctx context.Context, args ...string) (string, error) { return runInput(ctx, "", args...) }
