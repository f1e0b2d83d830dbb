# Every module in this repository: the library, then the nested modules that
# keep their own dependencies away from the library's users.
MODULES := . $(patsubst %/go.mod,%,$(wildcard */go.mod */*/go.mod))
GOTEST_FLAGS ?= -race -count=1

BENCH_MODULES := benchmarks examples/app fxasync/fxasyncriver

.PHONY: test vet fmt-check bench-smoke

# The one test command: README.md gives it and .ci/run calls it.
test:
	@set -e; for m in $(MODULES); do echo "== go test $$m"; (cd $$m && go test $(GOTEST_FLAGS) ./...); done

vet:
	@set -e; for m in $(MODULES); do (cd $$m && go vet ./...); done

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Every benchmark compiled and run once, so none rots (figures: benchmarks/run.sh).
bench-smoke:
	@set -e; for m in $(BENCH_MODULES); do echo "== go test -bench . -benchtime 1x $$m"; (cd $$m && go test -run '^$$' -bench . -benchtime 1x ./... >/dev/null && echo ok); done
