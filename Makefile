# chunkdiff build entry points. Every Go command carries the btrfs exclusion tag:
# containers/storage's btrfs driver needs C headers this project does not require.
GO        ?= go
TAGS      ?= exclude_graphdriver_btrfs
GOFLAGS_T := -tags $(TAGS)
# Packages where goroutines live; they run under the race detector in `make test`.
RACE_PKGS ?= ./differ/... ./internal/...
FUZZTIME  ?= 10s
GOLANGCI  ?= $(shell command -v golangci-lint 2>/dev/null || echo $(HOME)/go/bin/golangci-lint)
# VERSION is what `chunkdiff --version` prints: the git description of the checkout.
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS   := -X main.version=$(VERSION)
# install puts the binary in $(DESTDIR)$(BINDIR), /usr/local/bin by default.
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin

.PHONY: all build install uninstall clean test test-race test-rest fuzz fuzz-short lint cross bench bench-quick demo pull-demo generate

all: build

build:
	$(GO) build $(GOFLAGS_T) ./...
	$(GO) build $(GOFLAGS_T) -ldflags '$(LDFLAGS)' -o bin/chunkdiff ./cmd/chunkdiff

install: build
	install -D -m 0755 bin/chunkdiff $(DESTDIR)$(BINDIR)/chunkdiff

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/chunkdiff

# clean removes what the build wrote in the checkout.
clean:
	rm -rf bin

# test: the whole suite once, the concurrent packages under -race, then a short fuzz pass.
test: test-race test-rest fuzz-short

# The differ's suite drives real overlay stores; under -race on two cores it
# takes several minutes, over go test's 10-minute default when the machine
# is busy, so the bound is explicit.
TEST_TIMEOUT ?= 45m

test-race:
	$(GO) test $(GOFLAGS_T) -race -count=1 -timeout $(TEST_TIMEOUT) $(RACE_PKGS)

test-rest:
	$(GO) test $(GOFLAGS_T) -count=1 -timeout $(TEST_TIMEOUT) $$($(GO) list $(GOFLAGS_T) ./... | grep -v -E '/(differ|internal)(/|$$)')

# fuzz-short runs every fuzz target briefly; `make fuzz FUZZTIME=5m` runs them longer.
fuzz-short:
	$(MAKE) --no-print-directory fuzz FUZZTIME=5s

fuzz:
	@set -e; for pkg in $$($(GO) list $(GOFLAGS_T) ./...); do \
	  dir=$$($(GO) list $(GOFLAGS_T) -f '{{.Dir}}' $$pkg); \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
	    echo "fuzz $$pkg $$f"; \
	    $(GO) test $(GOFLAGS_T) -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(GOFLAGS_T) ./...
	$(GOLANGCI) run --build-tags $(TAGS) ./...

# cross: the packages a caller imports build wherever upstream's differ does;
# off Linux the differ falls back to an ordinary pull (reason host-unsupported).
CROSS_PKGS ?= ./differ/... ./formats/... ./convert/... ./layerfile/...
cross:
	GOOS=darwin $(GO) build $(GOFLAGS_T) $(CROSS_PKGS)
	GOOS=freebsd $(GO) build $(GOFLAGS_T) $(CROSS_PKGS)

generate:
	$(GO) generate $(GOFLAGS_T) ./...

# bench: chunkdiff vs upstream's differ pulling the Go toolchain tree as a zstd:chunked layer, one
# process per pull (results go to docs/BENCHMARKS.md), then the Go micro-benchmarks with a modest
# -benchtime. In that order: the micro-benchmarks create and delete many files, and on ext4 without
# a journal that slows file creation for minutes afterwards (see docs/BENCHMARKS.md).
# bench also pulls an update of the Go tree on top of the tree (plain and with use_hard_links) and
# the tree as a gzip blob with convert_images.
# bench-quick: the side-by-side harness on a small synthetic layer (cold and update), as a smoke test.
BENCHTIME ?= 300ms
# The side-by-side runs keep their stores (--keep-trash) until the last one, which deletes them all:
# nothing is timed within ext4's recently-deleted window. BENCHREV picks the code measured
# (BENCHREV= measures the working tree).
BENCHREV  ?= HEAD
SIDEBYSIDE = $(GO) run $(GOFLAGS_T) ./internal/bench/cmd/sidebyside $(if $(BENCHREV),--rev $(BENCHREV))
bench:
	$(SIDEBYSIDE) --layer goroot --update 1 --keep-trash
	$(SIDEBYSIDE) --layer goroot --update 1 --pull-option use_hard_links=true --keep-trash
	$(SIDEBYSIDE) --layer goroot --format gzip --pull-option convert_images=true --keep-trash
	$(SIDEBYSIDE) --layer goroot
	$(GO) test $(GOFLAGS_T) -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

# bench-firstpull (issue 14): the first partial pull into stores holding 1, 5 and 20 layers pulled
# ordinarily (gzip, PutLayer; the Go tree first), of the Go tree's next release, then a second pull;
# and the same into an empty store. Stores are prepared once (cached) and copied for every pull.
.PHONY: bench-firstpull
FIRSTPULL_ROUNDS ?= 3
bench-firstpull:
	$(SIDEBYSIDE) --layer goroot --ordinary-layers 1,5,20 --rounds $(FIRSTPULL_ROUNDS)

bench-quick:
	$(GO) run $(GOFLAGS_T) ./internal/bench/cmd/sidebyside --layer quick --update 1 --rounds 1 --pause 500ms --settle 0s --doc '' --keep-trash
	$(GO) run $(GOFLAGS_T) ./internal/bench/cmd/sidebyside --layer quick --ordinary-layers 1,3 --ordinary-files 300 --ordinary-mib 4 --rounds 1 --warmup 0 --pause 500ms --settle 0s --doc '' --keep-trash
	$(GO) run $(GOFLAGS_T) ./internal/bench/cmd/sidebyside --layer quick --rounds 1 --pause 500ms --settle 0s --doc ''

# demo: the main job on the embedded demo layer (testdata/demo).
demo: build
	./bin/chunkdiff demo

# pull-demo: the demo pair served by a local registry, pulled with `chunkdiff pull`.
pull-demo: build
	./bin/chunkdiff pull-demo
