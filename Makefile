# flowgate — see README.md. Everything here works without network access
# beyond loopback; conformance tests skip what needs a missing tool or corpus.

GO        ?= go
BIN       ?= bin/flowgate
PKGS      ?= ./...
TESTFLAGS ?= -timeout 20m
FUZZTIME  ?= 5s
SAMPLE    ?= testdata/sample.argus

.PHONY: all build run sample-print test vet unit bench-smoke bench fuzz sample speed clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/flowgate

# The main job on an embedded default: the gateway on its embedded config
# (NetFlow/IPFIX on UDP 2055 and 4739, Argus served on TCP 561, Argus v5
# files under ./data, JSON lines on stdout, metrics on :9800). It prints
# what it listens on and runs until Ctrl-C. Port 561 needs root or
# CAP_NET_BIND_SERVICE, as for the argus daemon.
run:
	$(GO) run ./cmd/flowgate gateway

# What `make run` was before the gateway: print our small Argus v5 file as ra does.
sample-print:
	$(GO) run ./cmd/flowgate ra -n -r $(SAMPLE)

test: vet unit bench-smoke

vet:
	$(GO) vet $(PKGS)

unit:
	$(GO) test $(TESTFLAGS) $(PKGS)

# Run every benchmark once so a broken one fails the build.
bench-smoke:
	$(GO) test -run='^$$' -bench=. -benchtime=1x -timeout 10m $(PKGS)

bench:
	$(GO) test -run='^$$' -bench=. -benchmem -timeout 30m $(PKGS)

# Each fuzz target for FUZZTIME (targets found with go test -list).
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) scripts/fuzz.sh $(PKGS)

# Regenerate testdata/sample.argus with our own writer.
sample:
	$(GO) run ./conformance/tools/gensample -o $(SAMPLE)

# Side-by-side timing against Debian's ra on a 1M-packet capture.
speed:
	scripts/bench-ra.sh

clean:
	rm -rf bin
