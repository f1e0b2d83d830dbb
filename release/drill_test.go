package release

// The release drill: every published module is zipped from the working
// tree at the candidate version into a file-based module proxy, as a
// publication would serve it; then, in fresh modules outside the
// repository and its workspace, each is fetched alone at that version and
// a program importing it is built, and the example is installed with
// go install. A module that only builds inside the workspace fails here.

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/zip"
)

// version is the candidate: FXASYNC_RELEASE_VERSION, or the version the
// modules require of each other now.
func version() string {
	if v := os.Getenv("FXASYNC_RELEASE_VERSION"); v != "" {
		return v
	}
	return "v0.1.0"
}

func TestReleaseDrill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every published module from a local proxy")
	}
	v := version()
	proxy := t.TempDir()
	var paths []string
	for _, m := range Published {
		paths = append(paths, publish(t, proxy, filepath.Join("..", m.Dir), v))
	}
	env := consumerEnv(t, proxy)
	for i, m := range Published[:len(Published)-1] { // the libraries
		t.Run(paths[i], func(t *testing.T) { buildConsumer(t, env, paths[i], m.Packages, v) })
	}
	app := paths[len(paths)-1]
	t.Run("go install "+app, func(t *testing.T) { install(t, env, app, v) })
}

// publish zips the module in dir at version v into proxy, checking first
// that it requires exactly v of the repository's other modules and has
// no replace directive, and returns its path.
func publish(t *testing.T, proxy, dir, v string) string {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	mf, err := modfile.Parse(filepath.Join(dir, "go.mod"), data, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := mf.Module.Mod.Path
	if len(mf.Replace) > 0 {
		t.Fatalf("%s: go.mod has replace directives: go ignores them for a user", path)
	}
	for _, r := range mf.Require {
		if strings.HasPrefix(r.Mod.Path, "github.com/fxtools/background") && r.Mod.Version != v {
			t.Fatalf("%s requires %s %s, not the candidate %s: run release/release.sh %s", path, r.Mod.Path, r.Mod.Version, v, v)
		}
	}
	esc, err := module.EscapePath(path)
	if err != nil {
		t.Fatal(err)
	}
	at := filepath.Join(proxy, esc, "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(at, v+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := zip.CreateFromDir(f, module.Version{Path: path, Version: v}, dir); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	info := fmt.Sprintf(`{"Version":%q,"Time":%q}`, v, time.Now().UTC().Format(time.RFC3339))
	write(t, filepath.Join(at, v+".info"), info)
	write(t, filepath.Join(at, v+".mod"), string(data))
	write(t, filepath.Join(at, "list"), v+"\n")
	return path
}

func write(t *testing.T, path, s string) {
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// consumerEnv is a user's environment: no workspace, the local proxy
// before the usual ones (and before this machine's download cache, so that
// dependencies already fetched are not fetched again), and a module cache
// of its own, so that no earlier drill's zip of the same version is used.
func consumerEnv(t *testing.T, proxy string) []string {
	goenv := func(k string) string {
		out, err := exec.Command("go", "env", k).Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	cache := filepath.Join(goenv("GOMODCACHE"), "cache", "download")
	modcache := t.TempDir()
	t.Cleanup(func() { _ = exec.Command("chmod", "-R", "u+w", modcache).Run() }) // the module cache is read-only
	return append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GONOSUMDB=github.com/fxtools/background",
		"GOMODCACHE="+modcache, "GOPROXY=file://"+proxy+",file://"+cache+","+goenv("GOPROXY"))
}

// buildConsumer builds, in a fresh module that requires only path@v, a
// program importing the module's packages pkgs.
func buildConsumer(t *testing.T, env []string, path string, pkgs []string, v string) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "go.mod"), "module drill.example/consumer\n\ngo 1.26.0\n")
	var imports strings.Builder
	for _, p := range pkgs {
		fmt.Fprintf(&imports, "import _ %q\n", strings.TrimSuffix(path+"/"+p, "/."))
	}
	write(t, filepath.Join(dir, "main.go"), "package main\n\n"+imports.String()+"\nfunc main() {}\n")
	run(t, dir, env, "go", "get", path+"@"+v)
	run(t, dir, env, "go", "build", "-o", filepath.Join(dir, "consumer"), ".")
}

// install installs the example as a user would, static (CGO_ENABLED=0, as
// its Dockerfile builds it for distroless), checks that it needs no
// dynamic loader, and runs it with -h.
func install(t *testing.T, env []string, path, v string) {
	bin := t.TempDir()
	run(t, t.TempDir(), append(env, "GOBIN="+bin, "CGO_ENABLED=0"), "go", "install", path+"@"+v)
	exe := filepath.Join(bin, filepath.Base(path))
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the example built with CGO_ENABLED=0 still needs a dynamic loader: it would not run on distroless/static")
		}
	}
	out, _ := exec.Command(exe, "-h").CombinedOutput()
	if !strings.Contains(string(out), "-drain-timeout") {
		t.Fatalf("the installed example's -h printed:\n%s", out)
	}
}

func run(t *testing.T, dir string, env []string, name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	t.Logf("%s %s: %v", name, strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
}
