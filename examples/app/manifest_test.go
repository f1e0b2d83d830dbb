package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fxtools/background/fxshutdown"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// The Kubernetes manifest's numbers agree with the service's shutdown plan;
// changing any of them (the grace, the preStop sleep, the environment that
// tells the service) makes the check fail.
func TestManifestAgreesWithThePlan(t *testing.T) {
	b, err := os.ReadFile("../k8s/deployment.yaml")
	require.NoError(t, err)
	var d appsv1.Deployment
	require.NoError(t, yaml.UnmarshalStrict(b, &d))
	require.NoError(t, manifestAgrees(t, d))

	for name, change := range map[string]func(*appsv1.Deployment){
		"grace shorter than the plan": func(d *appsv1.Deployment) { g := int64(20); d.Spec.Template.Spec.TerminationGracePeriodSeconds = &g },
		"preStop longer":              func(d *appsv1.Deployment) { container(d).Lifecycle.PreStop.Sleep.Seconds = 10 },
		"env grace differs":           func(d *appsv1.Deployment) { setEnv(d, fxshutdown.TerminationGraceEnv, "45") },
		"env preStop differs":         func(d *appsv1.Deployment) { setEnv(d, fxshutdown.PreStopEnv, "2") },
		"readiness on /healthz":       func(d *appsv1.Deployment) { container(d).ReadinessProbe.HTTPGet.Path = "/healthz" },
		"liveness on /healthz":        func(d *appsv1.Deployment) { container(d).LivenessProbe.HTTPGet.Path = "/healthz" },
		"no memory limit":             func(d *appsv1.Deployment) { delete(container(d).Resources.Limits, corev1.ResourceMemory) },
		"limit under the peak": func(d *appsv1.Deployment) {
			container(d).Resources.Limits[corev1.ResourceMemory] = resource.MustParse("200Mi")
		},
		"soft limit over the limit": func(d *appsv1.Deployment) { container(d).Args[len(container(d).Args)-1] = "1073741824" },
		"root":                      func(d *appsv1.Deployment) { container(d).SecurityContext.RunAsNonRoot = nil },
		"writable root":             func(d *appsv1.Deployment) { f := false; container(d).SecurityContext.ReadOnlyRootFilesystem = &f },
		"escalation":                func(d *appsv1.Deployment) { container(d).SecurityContext.AllowPrivilegeEscalation = nil },
		"no startup probe":          func(d *appsv1.Deployment) { container(d).StartupProbe = nil },
		"image latest":              func(d *appsv1.Deployment) { container(d).Image = "model-gateway:latest" },
	} {
		changed := d.DeepCopy()
		change(changed)
		assert.Error(t, manifestAgrees(t, *changed), name)
	}
}

// manifestAgrees checks the manifest against the plan the service would
// check at start with the manifest's arguments and environment.
func manifestAgrees(t *testing.T, d appsv1.Deployment) error {
	c := container(&d)
	grace := *d.Spec.Template.Spec.TerminationGracePeriodSeconds
	preStop := c.Lifecycle.PreStop.Sleep.Seconds
	var errs []error
	if v := env(&d, fxshutdown.TerminationGraceEnv); v != strconv.FormatInt(grace, 10) {
		errs = append(errs, fmt.Errorf("%s=%q, terminationGracePeriodSeconds %d", fxshutdown.TerminationGraceEnv, v, grace))
	}
	if v := env(&d, fxshutdown.PreStopEnv); v != strconv.FormatInt(preStop, 10) {
		errs = append(errs, fmt.Errorf("%s=%q, preStop sleep %d", fxshutdown.PreStopEnv, v, preStop))
	}
	if p := c.ReadinessProbe.HTTPGet.Path; p != "/readyz" {
		errs = append(errs, fmt.Errorf("readiness probe on %s, not /readyz", p))
	}
	if p := c.LivenessProbe.HTTPGet.Path; p != "/livez" {
		errs = append(errs, fmt.Errorf("liveness probe on %s, not /livez (200 through a stop)", p))
	}
	errs = append(errs, containerHardened(c)...)
	t.Setenv(fxshutdown.TerminationGraceEnv, strconv.FormatInt(grace, 10))
	t.Setenv(fxshutdown.PreStopEnv, strconv.FormatInt(preStop, 10))
	args := strings.Join(c.Args, "\x00")
	args = strings.ReplaceAll(args, "$(DATABASE_URL)", filepath.Join(t.TempDir(), "m.db"))
	cfg, err := parseFlags(strings.Split(args, "\x00"))
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	var sd *fxshutdown.Shutdown
	app := fxtest.New(t, append(options(cfg), fx.Decorate(func(*zap.Logger) *zap.Logger { return zap.NewNop() }),
		fx.Populate(&sd))...)
	defer app.RequireStart().RequireStop()
	p := sd.Plan(stopTimeout)
	t.Log(p)
	return errors.Join(append(errs, p.Check())...)
}

// measuredPeak is the example's peak RSS under the hostile overload
// (README, benchmarks/results/overload-20261201): the memory limit must
// leave room above it.
var measuredPeak = resource.MustParse("212M")

// containerHardened checks the container's resources, security context,
// startup probe and image.
func containerHardened(c *corev1.Container) []error {
	var errs []error
	limit, ok := c.Resources.Limits[corev1.ResourceMemory]
	switch {
	case !ok:
		errs = append(errs, errors.New("no memory limit"))
	case limit.Cmp(measuredPeak) <= 0:
		errs = append(errs, fmt.Errorf("memory limit %s is not above the measured peak %s", limit.String(), measuredPeak.String()))
	default:
		if soft, err := strconv.ParseInt(flagValue(c.Args, "-memory-limit"), 10, 64); err != nil || soft >= limit.Value() {
			errs = append(errs, fmt.Errorf("-memory-limit %q must be set below the container's limit %s", flagValue(c.Args, "-memory-limit"), limit.String()))
		}
	}
	if _, ok := c.Resources.Requests[corev1.ResourceMemory]; !ok {
		errs = append(errs, errors.New("no memory request"))
	}
	sc := c.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		errs = append(errs, errors.New("the container must run as non-root, on a read-only root filesystem, without privilege escalation"))
	}
	if c.StartupProbe == nil || c.StartupProbe.HTTPGet == nil || c.StartupProbe.HTTPGet.Path != "/readyz" {
		errs = append(errs, errors.New("no startup probe on /readyz (ready once every start hook ran)"))
	}
	if strings.HasSuffix(c.Image, ":latest") || !strings.Contains(c.Image, ":") {
		errs = append(errs, fmt.Errorf("image %q has no version tag", c.Image))
	}
	return errs
}

func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// The Dockerfile builds the image the manifest runs: static (CGO off), on
// distroless, as a non-root user.
func TestImageIsStaticAndNonRoot(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	require.NoError(t, err)
	df := string(b)
	assert.Contains(t, df, "CGO_ENABLED=0 go build")
	assert.Contains(t, df, "./examples/app")
	assert.Regexp(t, `(?m)^FROM gcr.io/distroless/static\S*:nonroot$`, df)
	assert.Regexp(t, `(?m)^USER 65532`, df)
	manifest, err := os.ReadFile("../k8s/deployment.yaml")
	require.NoError(t, err)
	assert.Contains(t, df, "-t model-gateway:0.1.0", "the tag the manifest runs")
	assert.Contains(t, string(manifest), "image: model-gateway:0.1.0")

	// That it builds static is the release drill's: it installs the
	// example with CGO_ENABLED=0 and checks for a dynamic loader.
}

func container(d *appsv1.Deployment) *corev1.Container { return &d.Spec.Template.Spec.Containers[0] }

func env(d *appsv1.Deployment, name string) string {
	for _, e := range container(d).Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func setEnv(d *appsv1.Deployment, name, value string) {
	c := container(d)
	for i := range c.Env {
		if c.Env[i].Name == name {
			c.Env[i].Value = value
		}
	}
}
