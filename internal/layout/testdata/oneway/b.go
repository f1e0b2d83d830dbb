package oneway

type B struct{ a A }
