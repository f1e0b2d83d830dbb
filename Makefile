# Every module in this repository: the library, then the nested modules that
# keep their own dependencies away from the library's users.
MODULES := . $(patsubst %/go.mod,%,$(wildcard */go.mod */*/go.mod))
GOTEST_FLAGS ?= -race -count=1

BENCH_MODULES := benchmarks examples/app fxasync/fxasyncriver

.PHONY: test vet fmt-check bench-smoke fleet-short api api-check internal-check

# The one test command: README.md gives it and .ci/run calls it. It ends
# with the fleet drill's short form, which needs Postgres.
test:
	@set -e; for m in $(MODULES); do echo "== go test $$m"; (cd $$m && go test $(GOTEST_FLAGS) ./...); done
	@$(MAKE) --no-print-directory fleet-short

# Three replicas behind a balancer, rolling restarts and a SIGKILL, in
# memory and durable (examples/fleet); then the outage drill: two replicas,
# the database refusing connections for 5 s mid-load. Without
# FXASYNC_POSTGRES_URL they are skipped, visibly, except in CI, where that
# is a failure.
fleet-short:
	@if [ -z "$$FXASYNC_POSTGRES_URL" ]; then \
		if [ -n "$$CI" ]; then echo "FXASYNC_POSTGRES_URL is unset in CI" >&2; exit 1; fi; \
		echo "== fleet drill skipped: FXASYNC_POSTGRES_URL is unset"; exit 0; fi; \
		echo "== go run -C examples/fleet . -short"; go run -C examples/fleet . -short; \
		echo "== go run -C examples/fleet . -outage 5s -replicas 2 -duration 24s"; \
		go run -C examples/fleet . -outage 5s -replicas 2 -duration 24s

vet:
	@set -e; for m in $(MODULES); do (cd $$m && go vet ./...); done

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Every benchmark compiled and run once, so none rots (figures: benchmarks/run.sh).
bench-smoke:
	@set -e; for m in $(BENCH_MODULES); do echo "== go test -bench . -benchtime 1x $$m"; (cd $$m && go test -run '^$$' -bench . -benchtime 1x ./... >/dev/null && echo ok); done

# The public API of each module, one name per line (internal/apilist): the
# api.txt files are committed, so every API change is a diff in review.
# make api writes them; make api-check (CI) fails when one is stale.
API_MODULES := .:fxasync,fxshutdown,fxasync/keepertest,fxasync/fxasynctest fxasync/fxasyncriver:. fxasync/fxasyncprom:. fxasync/fxasyncotel:.
APILIST := $(CURDIR)/internal/apilist/main.go

api:
	@set -e; for spec in $(API_MODULES); do m=$${spec%%:*}; pkgs=$$(echo $${spec#*:} | tr , ' '); \
		(cd $$m && mod=$$(awk '/^module /{print $$2; exit}' go.mod) && go run $(APILIST) $$(for p in $$pkgs; do echo $$mod/$$p | sed 's|/\.$$||'; done) > api.txt); done

api-check:
	@set -e; for spec in $(API_MODULES); do m=$${spec%%:*}; pkgs=$$(echo $${spec#*:} | tr , ' '); \
		(cd $$m && mod=$$(awk '/^module /{print $$2; exit}' go.mod) && go run $(APILIST) $$(for p in $$pkgs; do echo $$mod/$$p | sed 's|/\.$$||'; done) > /tmp/api.$$$$.txt && \
		if ! diff -u api.txt /tmp/api.$$$$.txt; then echo "$$m/api.txt is stale: run make api and commit it" >&2; exit 1; fi; rm -f /tmp/api.$$$$.txt); done

# No module compiles against another module's internal/ packages: they
# promise no compatibility, so a root release could break a nested
# module's build with no semver signal. Each module lists what its own
# packages and their tests import directly, and fails on an internal
# package of ours outside its own path.
internal-check:
	@set -e; for m in $(MODULES); do (cd $$m && own=$$(awk '/^module /{print $$2; exit}' go.mod) && \
		bad=$$(go list -f '{{join .Imports "\n"}}{{"\n"}}{{join .TestImports "\n"}}{{"\n"}}{{join .XTestImports "\n"}}' ./... | \
			grep -E '^github.com/fxtools/background/(.*/)?internal(/|$$)' | grep -v "^$$own/" | sort -u || true) && \
		if [ -n "$$bad" ]; then echo "$$m imports another module's internal packages: $$bad" >&2; exit 1; fi); done; \
	echo "no module imports another's internal/"
