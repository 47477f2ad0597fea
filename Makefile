# dnsmigrate: `make demo` runs the lab and shows `migrate check` at work;
# `make test` runs every test, lab and DNSViz cross-check included.

GO      ?= go
BIN     := bin/migrate
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# Debian packages the lab and its tests need.
DEBS    := bind9 bind9-dnsutils knot knot-dnsutils knot-resolver pdns-server pdns-backend-sqlite3 sqlite3 pdns-recursor unbound dnsviz iproute2 dnsperf

.PHONY: all build deps test race vet fmt bench fuzz demo clean

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/migrate

# Install the Debian packages that are missing; nothing when all are there.
deps:
	@missing=""; for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "make deps: missing$$missing; run as root or: sudo apt-get install$$missing" >&2; exit 1; fi; \
	  echo "make deps: installing$$missing"; \
	  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q$$missing >/dev/null; \
	fi

fmt:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# With CI=true a lab test whose server binary is missing fails, never skips.
test: deps fmt vet
	$(GO) test -race -count=1 -parallel 8 -timeout 30m ./...

# Measures, side by side in one run, and prints every ratio first: the
# query engine against dnsperf (Unbound and BIND, same questions), its
# memory at 1,000 to 100,000 questions, a lab migration against its
# mandated waits, and a lab zone of BENCH_RRSETS (default 100,000) more
# RRsets: plan, one TTL-gate poll, dry run, apply and rollback.
bench: SHELL := /bin/bash
bench: .SHELLFLAGS := -o pipefail -c
bench: deps
	@rm -f bench.out
	$(GO) test -run '^$$' -bench 'EngineVsDnsperf|EngineMemory|CheckLab|CheckLatency|Propagation' -benchmem -benchtime 3x ./e2e | tee -a bench.out
	$(GO) test -run '^$$' -bench 'LabMigration|LargeZone' -benchtime 1x -timeout 3h ./e2e | tee -a bench.out
	@echo; echo "== ratios (median of the runs above)"; \
	awk '/^Benchmark/ { for (i = 3; i < NF; i++) if ($$(i+1) ~ /ratio/) printf "%-8s %-32s %s\n", $$i, $$1, $$(i+1) }' bench.out

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzReply -fuzztime 30s ./checks
	$(GO) test -run '^$$' -fuzz FuzzParseAnchors -fuzztime 30s ./checks

demo: deps build
	@set -e; m=$(BIN); \
	echo "== Starting the lab: BIND 9 root, TLD (the registrar, one server on [::1]), provider OLD; Knot provider NEW; PowerDNS provider PDNS; Unbound, BIND, Knot Resolver and PowerDNS Recursor validating"; \
	$$m lab up; eval "$$($$m lab env)"; \
	echo; echo "== 1. A healthy signed zone: migrate check $$LAB_ZONE (root, trust anchor and resolvers from MIGRATE_*)"; \
	$$m check $$LAB_ZONE; \
	echo; echo "== 2. The registrar now publishes a DS that matches no key of the zone (the classic migration outage)"; \
	$$m lab break ds-mismatch; \
	$$m check $$LAB_ZONE && rc=0 || rc=$$?; echo "(migrate check exited $$rc: 3 means at least one critical finding)"; \
	echo; echo "== 3. Repaired: DS made from the zone's live KSK, resolvers flushed"; \
	$$m lab repair; $$m check $$LAB_ZONE | head -2; \
	out=$$(mktemp -d); export MIGRATE_OUTPUT_DIR=$$out MIGRATE_OUTPUT_STATE_DIR=$$out/state; \
	echo; echo "== 4. Plan the move of $$LAB_ZONE from OLD (BIND) to NEW (Knot), signed on both sides"; \
	$$m plan -f examples/lab-nameservers.yaml --out $$out/plan.json; \
	echo; echo "== 5. Apply it: every wait from served TTLs, every step proven at every server (about 3 minutes)"; \
	$$m apply $$out/plan.json --yes; \
	echo; echo "== 6. The change log for the ticket ($$out/example.lab/changelog.md)"; \
	cat $$out/example.lab/changelog.md; \
	echo; $$m check $$LAB_ZONE | head -2; \
	echo; echo "== 7. Move it on from NEW (Knot) to PDNS (PowerDNS, through its HTTP API) without a moment insecure: dnssec: multi-signer"; \
	$$m plan -f examples/lab-multisigner.yaml --out $$out/plan-multisigner.json; \
	echo; echo "== 8. Apply it: each host publishes the other's ZSK, the parent both DS, then the delegation moves (about 2.5 minutes)"; \
	$$m apply $$out/plan-multisigner.json --yes; \
	echo; $$m check $$LAB_ZONE | head -2; \
	echo; $$m lab down

clean:
	rm -rf bin
