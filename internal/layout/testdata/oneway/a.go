package oneway

type A struct{}
