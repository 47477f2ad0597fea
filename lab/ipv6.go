package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// ipv6Owner names the lab that holds [::1]:53, the one IPv6 address the
// labs may use; ipv6Guard serialises taking and releasing it.
func ipv6Files() (owner, guard string) {
	base := filepath.Join(os.TempDir(), "dnsmigrate-lab-ipv6")
	return base + ".owner", base + ".lock"
}

// withIPv6Guard runs f holding an exclusive flock, so that two labs
// starting at once never both take [::1]:53.
func withIPv6Guard(f func(owner string) error) error {
	owner, guard := ipv6Files()
	g, err := os.OpenFile(guard, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("lab: ipv6 lock: %w", err)
	}
	defer g.Close()
	if err := syscall.Flock(int(g.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lab: ipv6 lock %s: %w", guard, err)
	}
	defer func() { _ = syscall.Flock(int(g.Fd()), syscall.LOCK_UN) }()
	return f(owner)
}

// takeIPv6 gives [::1]:53 to the lab in dir unless another live lab holds
// it. A holder whose lab is gone (its state or its server) is replaced.
func takeIPv6(dir string) (bool, error) {
	got := false
	err := withIPv6Guard(func(owner string) error {
		b, err := os.ReadFile(owner)
		if err == nil {
			holder := strings.TrimSpace(string(b))
			if holder != dir && ipv6HolderAlive(holder) {
				return nil
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("lab: ipv6 owner: %w", err)
		}
		if err := os.WriteFile(owner, []byte(dir+"\n"), 0o600); err != nil {
			return fmt.Errorf("lab: ipv6 owner: %w", err)
		}
		got = true
		return nil
	})
	return got, err
}

// releaseIPv6 gives [::1]:53 back if the lab in dir holds it.
func releaseIPv6(dir string) error {
	return withIPv6Guard(func(owner string) error {
		b, err := os.ReadFile(owner)
		if err != nil || strings.TrimSpace(string(b)) != dir {
			return nil
		}
		if err := os.Remove(owner); err != nil {
			return fmt.Errorf("lab: ipv6 owner: %w", err)
		}
		return nil
	})
}

func ipv6HolderAlive(dir string) bool {
	l, err := Open(Config{Dir: dir})
	if err != nil {
		return false
	}
	p, ok := l.Procs[RoleTLD6]
	return ok && p.alive()
}

// heldPrimary is where a held IPv6 secondary looks for its primary: an
// address of the lab's prefix where nothing listens.
func heldPrimary(a map[Role]netip.Addr) string {
	b := a[RoleRoot].As4()
	b[3] = 250
	return netip.AddrFrom4(b).String()
}

// HoldIPv6 makes the IPv6 parent secondary lag (true): it keeps serving
// what it has and takes no transfer; false lets it catch up and waits
// until it has.
func (l *Lab) HoldIPv6(ctx context.Context, hold bool) error {
	if !l.IPv6 {
		return errors.New("lab: this lab does not run the IPv6 parent secondary")
	}
	l.holdIPv6 = hold
	if _, err := l.renderBIND(RoleTLD6, false); err != nil {
		return err
	}
	if _, err := l.rndc(ctx, RoleTLD6, "reconfig"); err != nil {
		return err
	}
	if hold {
		return nil
	}
	if _, err := l.rndc(ctx, RoleTLD6, "refresh", strings.TrimSuffix(TLD, ".")); err != nil {
		return err
	}
	return l.WaitInSync(ctx)
}
