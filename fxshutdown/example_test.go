package fxshutdown_test

import (
	"context"
	"fmt"
	"time"

	"github.com/fxtools/background/fxshutdown"
	"go.uber.org/zap"
)

// Steps run in the reverse order of registration: register each resource's
// step where it is built, and the drain of the tasks that use it runs first.
func ExampleShutdown_Add() {
	sd := fxshutdown.New(fxshutdown.Config{StepTimeout: time.Second, Logger: zap.NewNop()})
	step := func(name string) func(context.Context) error {
		return func(context.Context) error { fmt.Println("stopping", name); return nil }
	}
	sd.Add(fxshutdown.Step{Name: "runtime-pool", Run: step("runtime-pool")}) // built first, stops last
	sd.Add(fxshutdown.Step{Name: "cache", Run: step("cache")})
	sd.Add(fxshutdown.Step{Name: "async-tasks", Run: step("async-tasks"), Timeout: 3 * time.Second})

	err := sd.Stop(context.Background())
	fmt.Println("error:", err)
	// Output:
	// stopping async-tasks
	// stopping cache
	// stopping runtime-pool
	// error: <nil>
}

// A step says what it did besides succeeding: the note follows its outcome
// in the summary line and in Outcomes.
func ExampleNote() {
	sd := fxshutdown.New(fxshutdown.Config{Logger: zap.NewNop()})
	sd.Add(fxshutdown.Step{Name: "durable-handoff", Run: func(ctx context.Context) error {
		fxshutdown.Note(ctx, "handed off 12 task(s) to River")
		return nil
	}})
	_ = sd.Stop(context.Background())
	for _, o := range sd.Outcomes() {
		fmt.Printf("%s: %v (%s)\n", o.Name, o.Err, o.Note)
	}
	// Output:
	// durable-handoff: <nil> (handed off 12 task(s) to River)
}

// The plan checks, before the application starts, that the stop fits in
// Kubernetes' termination grace; Run fails the start with these numbers.
func ExampleShutdown_Plan() {
	sd := fxshutdown.New(fxshutdown.Config{TerminationGrace: 30 * time.Second, ReadinessDelay: 10 * time.Second, Logger: zap.NewNop()})
	sd.Add(fxshutdown.Step{Name: "database", Run: func(context.Context) error { return nil }, Timeout: 2 * time.Second})
	sd.Add(fxshutdown.Step{Name: "http-server", Run: func(context.Context) error { return nil }, Timeout: 30 * time.Second})
	fmt.Println(sd.Plan(15 * time.Second).Check())
	// Output:
	// the stop needs 45s but the termination grace is 30s: readiness delay 10s + http-server 30s + database 2s + margin 3s = 45s of 30s
	// fx's StopTimeout 15s is shorter than the steps' 32s: fx would skip the last ones
}
