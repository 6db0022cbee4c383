# Latchkey. `make run` starts the dev server with a demo app; `make test` runs
# everything CI runs, installing what it needs (PostgreSQL, Chromium) when missing.
GO      ?= go
PKGS    ?= ./...
BIN     ?= bin/latchkey

.PHONY: run build test check deps bench fuzz screenshots clean

run:
	$(GO) run ./cmd/latchkey dev

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/latchkey

# deps installs, when missing, the PostgreSQL server the storage and flow
# tests start a throwaway cluster of (nothing is left running afterwards),
# Debian's Chromium with a CJK font for the browser tests
# (idp/idptest/chrome; LATCHKEY_CHROMIUM picks another browser), and Prism
# (npm, outside the repo) for the Twilio contract tests (LATCHKEY_PRISM).
deps:
	@.ci/ensure-postgres
	@.ci/ensure-chromium
	@.ci/ensure-prism

check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

test: deps check
	$(GO) test -count=1 $(PKGS)

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./idp/ ./idp/password/ ./idp/clientsecret/

# fuzz runs each fuzz target for a short while (seeds alone run in `make test`).
fuzz:
	@for pkg in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -h '^func Fuzz' $$pkg/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 20s $$pkg || exit 1; \
	  done; \
	done

# screenshots drives Chromium through every hosted page in each language and
# writes the PNGs to docs/screenshots/<lang>/ (idp/screenshots_test.go).
screenshots: deps
	LATCHKEY_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run '^TestScreenshots$$' ./idp/

clean:
	rm -rf bin
