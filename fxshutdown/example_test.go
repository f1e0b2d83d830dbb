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
	sd := fxshutdown.New(fxshutdown.Config{StepTimeout: time.Second}, zap.NewNop())
	step := func(name string) func(context.Context) error {
		return func(context.Context) error { fmt.Println("stopping", name); return nil }
	}
	sd.Add("runtime-pool", step("runtime-pool")) // built first, stops last
	sd.Add("cache", step("cache"))
	sd.Add("async-tasks", step("async-tasks"), fxshutdown.WithTimeout(3*time.Second))

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
	sd := fxshutdown.New(fxshutdown.Config{}, zap.NewNop())
	sd.Add("durable-handoff", func(ctx context.Context) error {
		fxshutdown.Note(ctx, "handed off 12 task(s) to River")
		return nil
	})
	_ = sd.Stop(context.Background())
	for _, o := range sd.Outcomes() {
		fmt.Printf("%s: %v (%s)\n", o.Name, o.Err, o.Note)
	}
	// Output:
	// durable-handoff: <nil> (handed off 12 task(s) to River)
}
