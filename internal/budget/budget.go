// Package budget is the one rule by which fxasync and fxshutdown share the
// stop deadline that fx gives every OnStop hook together (StopTimeout).
//
// The rule: a phase gets what it asks for, but never what the phases after it
// are owed. What a phase is owed is the smaller of what it asks for and an
// equal share of the time left ([Reserve]). A phase that ends with a grace
// (cancel, then wait a little for the work to return) keeps that grace inside
// its own bound ([Split]), so the phases after it start on time.
package budget

import "time"

// Of returns the bound of a phase that asks for want when left remains and
// reserve must be kept for the phases after it. It is never negative.
func Of(left, want, reserve time.Duration) time.Duration {
	return max(min(want, left-reserve), 0)
}

// Reserve is what the phases after this one are owed: for each, the smaller
// of what it asks for and an equal share of left among this phase and them.
func Reserve(left time.Duration, after []time.Duration) time.Duration {
	fair := left / time.Duration(len(after)+1)
	var r time.Duration
	for _, a := range after {
		r += min(a, fair)
	}
	return r
}

// Share is the reserve that leaves a phase at most share (0 < share ≤ 1) of
// left: for a phase that does not know the phases after it.
func Share(left time.Duration, share float64) time.Duration {
	return left - time.Duration(float64(left)*share)
}

// maxMargin caps the margin that Split keeps for reporting after the grace.
const maxMargin = 50 * time.Millisecond

// Split divides a bound into the time to wait for work to finish, then the
// grace after cancelling what is left. The grace takes at most a quarter of
// the bound and a margin (a twentieth, at most 50 ms) is kept for the report,
// so wait + grace + margin = bound and the phase ends within it.
func Split(bound, grace time.Duration) (wait, g time.Duration) {
	if bound <= 0 {
		return 0, 0
	}
	g = min(grace, bound/4)
	margin := min(bound/20, maxMargin)
	return bound - g - margin, g
}
