package fxasyncotel

// This file holds the sampler that follows links: a task's root span is
// sampled when the span that submitted it was.

import (
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// LinkedSampler returns a sampler that samples a span without a parent
// when one of its links is sampled, and leaves every other decision to
// base. ParentBased samplers look at the parent only, so a task's linked
// root span would be sampled at the root ratio, not with its request:
//
//	sdktrace.WithSampler(fxasyncotel.LinkedSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.01))))
func LinkedSampler(base sdktrace.Sampler) sdktrace.Sampler { return linked{base} }

type linked struct{ base sdktrace.Sampler }

func (s linked) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	if !trace.SpanContextFromContext(p.ParentContext).IsValid() {
		for _, l := range p.Links {
			if l.SpanContext.IsSampled() {
				return sdktrace.SamplingResult{Decision: sdktrace.RecordAndSample}
			}
		}
	}
	return s.base.ShouldSample(p)
}

func (s linked) Description() string { return "LinkedSampler{" + s.base.Description() + "}" }
