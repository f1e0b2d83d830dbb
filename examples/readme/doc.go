// Command readme is the code that README.md quotes: every ```go block there
// is an excerpt of a file here, so it compiles, and readme_test.go checks
// both that each block is found here word for word and that the wiring
// stops in the order the README says.
package main
