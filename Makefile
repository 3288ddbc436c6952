# flowgate — see README.md. Everything here works without network access
# beyond loopback; conformance tests skip what needs a missing tool or corpus.

GO        ?= go
BIN       ?= bin/flowgate
PKGS      ?= ./...
TESTFLAGS ?= -timeout 20m
FUZZTIME  ?= 5s
SAMPLE    ?= testdata/sample.argus

.PHONY: all build run test vet unit bench-smoke bench fuzz sample speed clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/flowgate

# The main job on an embedded default: our own small Argus v5 file.
run:
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
