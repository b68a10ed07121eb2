# invoke_ns: see README.md. Targets: build test deps race demo install clean
# lint bench (BENCHMARKS.md) image (deploy/).
PREFIX ?= /usr/local
BINDIR  = $(PREFIX)/bin
MANDIR  = $(PREFIX)/share/man/man1
COMPDIR = $(PREFIX)/share/bash-completion/completions
ZSHDIR  = $(PREFIX)/share/zsh/site-functions
GO     ?= go
export CGO_ENABLED = 0

# What --version prints: the checkout's description, if there is one.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
SOURCES  = $(wildcard *.go internal/*/*.go) go.mod go.sum

# Where the demo can get privilege from: root, or a user namespace (-U).
DEMO_FLAGS = $(shell [ "$$(id -u)" = 0 ] || echo -U)

.PHONY: build test deps race demo install clean lint bench image

build: invoke_ns

# A file target, so that `make build && sudo make install` (or demo) does
# not need Go on root's PATH: the binary is up to date already.
invoke_ns: $(SOURCES)
	$(GO) build -trimpath -ldflags='-s -w -X main.version=$(VERSION)' -o invoke_ns .

# The tests first install, as root, what they use and the machine lacks
# (testdata/tools); as anyone else deps installs nothing, and the tests
# that need what is missing skip.
test: deps lint
	$(GO) test -count=1 $(TESTFLAGS) ./...

# The suite against a build with the race detector, for the goroutines
# that start the children and catch the signals beside them. It needs cgo
# and a C compiler. halt_on_error ends a run at its first race, with
# status 66, which fails the test that ran it.
race: deps
	d=$$(mktemp -d) && trap 'rm -rf "$$d"' EXIT && \
	  CGO_ENABLED=1 $(GO) build -race -o "$$d/invoke_ns" . && \
	  GORACE='atexit_sleep_ms=0 halt_on_error=1' INVOKE_NS_TEST_BINARY="$$d/invoke_ns" \
	  CGO_ENABLED=1 $(GO) test -race -count=1 $(TESTFLAGS) ./...

deps:
	@.ci/deps

demo: invoke_ns
	@if [ "$$(id -u)" != 0 ] && ! unshare --user --map-root-user true 2>/dev/null; then \
	  echo "make demo needs root (sudo make demo), or a host that lets users create user namespaces." >&2; exit 1; fi
	@echo '$$ printf "I will return to haunt you with peculiar piano riffs\n" | ./invoke_ns $(DEMO_FLAGS) -vi no'
	@printf 'I will return to haunt you with peculiar piano riffs\n' | ./invoke_ns $(DEMO_FLAGS) -vi no 2>&1; echo "(exit status $$?)"
	@echo
	@echo '$$ printf "I will return to haunt you with peculiar piano riffs\n" | ./invoke_ns $(DEMO_FLAGS) -vi yes'
	@printf 'I will return to haunt you with peculiar piano riffs\n' | ./invoke_ns $(DEMO_FLAGS) -vi yes 2>&1; echo "(exit status $$?)"

install: invoke_ns
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR) $(DESTDIR)$(COMPDIR) $(DESTDIR)$(ZSHDIR)
	install -m 0755 invoke_ns $(DESTDIR)$(BINDIR)/invoke_ns
	install -m 0644 docs/invoke_ns.1 $(DESTDIR)$(MANDIR)/invoke_ns.1
	install -m 0644 docs/invoke_ns.bash-completion $(DESTDIR)$(COMPDIR)/invoke_ns
	install -m 0644 docs/invoke_ns.zsh-completion $(DESTDIR)$(ZSHDIR)/_invoke_ns

# The DaemonSet's image (deploy/Containerfile): the static binary alone,
# tagged $(IMAGE):$(VERSION) and $(IMAGE):latest, built by docker where its
# daemon answers, else by podman.
IMAGE ?= invoke_ns
image: invoke_ns
	@if docker info >/dev/null 2>&1; then engine=docker; \
	elif command -v podman >/dev/null; then engine=podman; \
	else echo "make image: no docker daemon answers, and there is no podman — install one" >&2; exit 1; fi; \
	d=$$(mktemp -d) && trap 'rm -rf "$$d"' EXIT && cp invoke_ns "$$d/" && \
	echo "$$engine build -f deploy/Containerfile -t $(IMAGE):$(VERSION) -t $(IMAGE):latest" && \
	$$engine build -q -f deploy/Containerfile -t $(IMAGE):$(VERSION) -t $(IMAGE):latest "$$d"

# Timings need root (unshare --ipc and invoke_ns without -U) and GNU time,
# from the distribution's packages where it is missing.
# It builds what it times itself, as build does, whatever ./invoke_ns is.
bench:
	@if [ "$$(id -u)" != 0 ]; then echo "make bench needs root: sudo make bench" >&2; exit 1; fi
	@if [ ! -x /usr/bin/time ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; fi
	$(GO) build -trimpath -ldflags='-s -w -X main.version=$(VERSION)' -o bench/invoke_ns .
	$(GO) build -trimpath -ldflags='-s -w -X main.version=$(VERSION)' -tags benchphase -o bench/invoke_ns-phases .
	$(GO) build -trimpath -ldflags='-s -w' -o bench/floor/floor ./bench/floor
	$(GO) run ./bench -bin ./bench/invoke_ns -phases ./bench/invoke_ns-phases -floor ./bench/floor/floor

clean:
	rm -f invoke_ns bench/invoke_ns bench/invoke_ns-phases bench/floor/floor
	$(GO) clean -testcache

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt -l lists: $$out" >&2; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags benchphase ./internal/node
