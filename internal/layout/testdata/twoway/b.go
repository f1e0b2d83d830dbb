package twoway

type B struct{}

func (B) Use(a A) string { return a.Name() }
