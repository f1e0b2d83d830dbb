// Package fxasyncprom exports a fxasync.Scheduler's figures to Prometheus.
//
// It is its own module, so that users of fxasync who do not use Prometheus
// never download prometheus/client_golang. The collector reads the
// scheduler's own counters at scrape time: running a task costs nothing more
// with it than without it.
//
// Metrics:
//
//	fxasync_tasks_pending{label}                 gauge, admitted and not finished
//	fxasync_tasks_total{label,outcome}           counter; outcome: succeeded, failed, panicked, rejected, handed_off, coalesced
//	fxasync_task_duration_seconds{label}         histogram, 0.5 ms to 60 s, from submission to return
//	fxasync_task_retries_total{label}            counter, attempts after the first (fxasync.Retry)
//	fxasync_task_gave_up_total{label,reason}     counter, tasks that ended with retries untried; reason: budget, limit
//	                                             (MaxAttempts, MaxElapsed or the drain's bound)
//	fxasync_tasks_waiting{label}                 gauge, Go calls waiting for a slot (not pending)
//	fxasync_drain_duration_seconds               gauge, the last drain
//	fxasync_drain_abandoned_tasks                gauge, tasks left pending by the last drain
//	fxasync_drain_lost{label}                    gauge, what the last stop lost (tasks; a batcher's items)
//	fxasync_drain_kept{label}                    gauge, what the last stop handed to the Keeper and it kept
//	fxasync_batch_items_pending{batcher}         gauge, items accepted and not yet written
//	fxasync_batch_items_total{batcher,outcome}   counter; outcome: added, rejected, flushed, failed, lost, kept
//	fxasync_batch_size{batcher}                  histogram of items per flush
//	fxasync_batch_retries_total{batcher}         counter, writes tried again
//	fxasync_batch_gave_up_items_total{batcher}   counter, items failed or kept with retries untried
//
// Labels share the scheduler's cap on distinct labels (fxasync.Config.MaxLabels):
// past it, tasks are counted under fxasync.OverflowLabel, so a dynamic label
// cannot explode the number of series. Labels are valid UTF-8 and bounded in
// length (the scheduler cleans them at submission), and a scrape never
// panics: a metric that cannot be built is reported as an invalid metric,
// which the registry turns into a scrape error.
package fxasyncprom

import (
	"github.com/fxtools/background/fxasync"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	pendingDesc = prometheus.NewDesc("fxasync_tasks_pending",
		"Tasks admitted and not finished.", []string{"label"}, nil)
	totalDesc = prometheus.NewDesc("fxasync_tasks_total",
		"Tasks submitted, by how they ended.", []string{"label", "outcome"}, nil)
	durationDesc = prometheus.NewDesc("fxasync_task_duration_seconds",
		"Time from submission to return of finished tasks.", []string{"label"}, nil)
	drainDurationDesc = prometheus.NewDesc("fxasync_drain_duration_seconds",
		"Duration of the last drain.", nil, nil)
	drainAbandonedDesc = prometheus.NewDesc("fxasync_drain_abandoned_tasks",
		"Tasks still pending when the last drain returned.", nil, nil)
	waitingDesc = prometheus.NewDesc("fxasync_tasks_waiting",
		"Go calls waiting for a slot; they are not pending.", []string{"label"}, nil)
	drainLostDesc = prometheus.NewDesc("fxasync_drain_lost",
		"What the last stop lost: tasks running at its end, queued or refused; a batcher's items.", []string{"label"}, nil)
	batchPendingDesc = prometheus.NewDesc("fxasync_batch_items_pending",
		"Items a batcher accepted and has not written yet.", []string{"batcher"}, nil)
	batchItemsDesc = prometheus.NewDesc("fxasync_batch_items_total",
		"Items handed to a batcher, by what became of them.", []string{"batcher", "outcome"}, nil)
	drainKeptDesc = prometheus.NewDesc("fxasync_drain_kept",
		"What the last stop left unfinished and the Keeper kept: a Kind's tasks, a batcher's items.", []string{"label"}, nil)
	batchSizeDesc = prometheus.NewDesc("fxasync_batch_size",
		"Items per flush.", []string{"batcher"}, nil)
	retriesDesc = prometheus.NewDesc("fxasync_task_retries_total",
		"Attempts after the first: failed tasks tried again.", []string{"label"}, nil)
	gaveUpDesc = prometheus.NewDesc("fxasync_task_gave_up_total",
		"Tasks that ended failed with retries untried: over the budget, or past MaxAttempts, MaxElapsed or the drain's bound.",
		[]string{"label", "reason"}, nil)
	batchRetriesDesc = prometheus.NewDesc("fxasync_batch_retries_total",
		"A batcher's writes that failed as the store's and were tried again.", []string{"batcher"}, nil)
	batchGaveUpDesc = prometheus.NewDesc("fxasync_batch_gave_up_items_total",
		"Items whose write was retryable but out of retries: failed, or kept by the Keeper.", []string{"batcher"}, nil)
)

// Collector is a prometheus.Collector for one Scheduler.
type Collector struct{ s *fxasync.Scheduler }

// NewCollector returns a collector of s's figures.
func NewCollector(s *fxasync.Scheduler) *Collector { return &Collector{s: s} }

// Describe sends the descriptors of every metric.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{waitingDesc, drainLostDesc, batchPendingDesc, batchItemsDesc, batchSizeDesc, drainKeptDesc,
		pendingDesc, totalDesc, durationDesc, drainDurationDesc, drainAbandonedDesc, retriesDesc, gaveUpDesc,
		batchRetriesDesc, batchGaveUpDesc} {
		ch <- d
	}
}

// Collect reads the scheduler's counters. It never panics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, l := range c.s.Stats().Labels {
		ch <- metric(pendingDesc, prometheus.GaugeValue, float64(l.Pending), l.Label)
		for _, o := range []struct {
			name string
			n    int64
		}{{"succeeded", l.Succeeded}, {"failed", l.Failed}, {"panicked", l.Panicked}, {"rejected", l.Rejected},
			{"handed_off", l.HandedOff}, {"coalesced", l.Coalesced}} {
			ch <- metric(totalDesc, prometheus.CounterValue, float64(o.n), l.Label, o.name)
		}
		ch <- metric(waitingDesc, prometheus.GaugeValue, float64(l.Waiting), l.Label)
		ch <- metric(retriesDesc, prometheus.CounterValue, float64(l.Retries), l.Label)
		ch <- metric(gaveUpDesc, prometheus.CounterValue, float64(l.OverBudget), l.Label, "budget")
		ch <- metric(gaveUpDesc, prometheus.CounterValue, float64(l.GaveUp-l.OverBudget), l.Label, "limit")
		ch <- histogram(l)
	}
	d := c.s.LastDrain()
	ch <- metric(drainDurationDesc, prometheus.GaugeValue, d.Duration.Seconds())
	ch <- metric(drainAbandonedDesc, prometheus.GaugeValue, float64(d.Abandoned))
	for _, l := range d.Lost {
		ch <- metric(drainLostDesc, prometheus.GaugeValue, float64(l.Total()), l.Label)
		if l.Kept > 0 {
			ch <- metric(drainKeptDesc, prometheus.GaugeValue, float64(l.Kept), l.Label)
		}
	}
	for _, b := range c.s.Batchers() {
		collectBatcher(ch, b)
	}
}

func collectBatcher(ch chan<- prometheus.Metric, b fxasync.BatcherStats) {
	ch <- metric(batchPendingDesc, prometheus.GaugeValue, float64(b.Pending), b.Label)
	for _, o := range []struct {
		name string
		n    int64
	}{{"added", b.Added}, {"rejected", b.Rejected}, {"flushed", b.Flushed}, {"failed", b.Failed}, {"lost", b.Lost},
		{"kept", b.Kept}} {
		ch <- metric(batchItemsDesc, prometheus.CounterValue, float64(o.n), b.Label, o.name)
	}
	ch <- metric(batchRetriesDesc, prometheus.CounterValue, float64(b.Retries), b.Label)
	ch <- metric(batchGaveUpDesc, prometheus.CounterValue, float64(b.GaveUp), b.Label)
	buckets := make(map[float64]uint64, len(fxasync.BatchSizeBounds))
	var cum uint64
	for i, bound := range fxasync.BatchSizeBounds {
		cum += uint64(b.Sizes[i])
		buckets[float64(bound)] = cum
	}
	count := cum + uint64(b.Sizes[len(fxasync.BatchSizeBounds)])
	sum := float64(b.Flushed + b.Failed + b.Lost)
	m, err := prometheus.NewConstHistogram(batchSizeDesc, count, sum, buckets, b.Label)
	if err != nil {
		m = prometheus.NewInvalidMetric(batchSizeDesc, err)
	}
	ch <- m
}

// metric builds a constant metric, or an invalid one that carries the error.
func metric(desc *prometheus.Desc, typ prometheus.ValueType, v float64, labels ...string) prometheus.Metric {
	m, err := prometheus.NewConstMetric(desc, typ, v, labels...)
	if err != nil {
		return prometheus.NewInvalidMetric(desc, err)
	}
	return m
}

// histogram turns per-bucket counts into Prometheus's cumulative buckets.
func histogram(l fxasync.LabelStats) prometheus.Metric {
	buckets := make(map[float64]uint64, len(fxasync.DurationBounds))
	var cum uint64
	for i, bound := range fxasync.DurationBounds {
		cum += uint64(l.Durations.Counts[i])
		buckets[bound.Seconds()] = cum
	}
	count := cum + uint64(l.Durations.Counts[len(fxasync.DurationBounds)])
	m, err := prometheus.NewConstHistogram(durationDesc, count, l.Durations.Sum.Seconds(), buckets, l.Label)
	if err != nil {
		return prometheus.NewInvalidMetric(durationDesc, err)
	}
	return m
}
