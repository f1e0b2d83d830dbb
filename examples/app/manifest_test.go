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
