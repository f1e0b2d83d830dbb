#!/usr/bin/env bash
# release/release.sh VERSION — prepare the release of every published
# module at VERSION: make it the version each module of the repository
# requires of the others (go.mod files, and go.work's version-scoped
# replaces, which bootstrap a version not yet tagged), run the release
# drill at it, and print the tags to push, one per published module
# (release/doc.go's Published). It tags and pushes nothing itself.
set -euo pipefail
v=${1:?usage: release/release.sh vX.Y.Z}
[[ $v =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || { echo "release.sh: not a semantic version: $v" >&2; exit 2; }
cd "$(dirname "$0")/.."

# Every "github.com/fxtools/background… vX" in the go.mod files and go.work.
for f in $(git ls-files '*go.mod') go.work; do
  sed -i -E "s#(github\.com/fxtools/background[A-Za-z0-9/._-]*) v[0-9][^ ]*#\1 $v#" "$f"
done
FXASYNC_RELEASE_VERSION=$v go test -count=1 -run '^TestReleaseDrill$' ./release

echo "The drill passed at $v. Commit, then tag that commit and push the tags:"
for dir in $(grep -oE '^\s*\{"[^"]+"' release/doc.go | grep -oE '"[^"]+"' | tr -d '"'); do
  if [ "$dir" = "." ]; then echo "  git tag $v"; else echo "  git tag $dir/$v"; fi
done
echo "Once they are published, drop go.work's replace block (Go then fetches the tags)."
