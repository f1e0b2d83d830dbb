# Every module in this repository: the library, then the nested modules that
# keep their own dependencies away from the library's users.
MODULES := . $(patsubst %/go.mod,%,$(wildcard */go.mod */*/go.mod))
GOTEST_FLAGS ?= -race -count=1

BENCH_MODULES := benchmarks examples/app fxasync/fxasyncriver

.PHONY: test vet fmt-check bench-smoke fleet-short

# The one test command: README.md gives it and .ci/run calls it. It ends
# with the fleet drill's short form, which needs Postgres.
test:
	@set -e; for m in $(MODULES); do echo "== go test $$m"; (cd $$m && go test $(GOTEST_FLAGS) ./...); done
	@$(MAKE) --no-print-directory fleet-short

# Three replicas behind a balancer, rolling restarts and a SIGKILL, in
# memory and durable (examples/fleet). Without FXASYNC_POSTGRES_URL it is
# skipped, visibly, except in CI, where that is a failure.
fleet-short:
	@if [ -z "$$FXASYNC_POSTGRES_URL" ]; then \
		if [ -n "$$CI" ]; then echo "FXASYNC_POSTGRES_URL is unset in CI" >&2; exit 1; fi; \
		echo "== fleet drill skipped: FXASYNC_POSTGRES_URL is unset"; exit 0; fi; \
		echo "== go run -C examples/fleet . -short"; go run -C examples/fleet . -short

vet:
	@set -e; for m in $(MODULES); do (cd $$m && go vet ./...); done

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Every benchmark compiled and run once, so none rots (figures: benchmarks/run.sh).
bench-smoke:
	@set -e; for m in $(BENCH_MODULES); do echo "== go test -bench . -benchtime 1x $$m"; (cd $$m && go test -run '^$$' -bench . -benchtime 1x ./... >/dev/null && echo ok); done
