// Package styletest holds tests of rules of the house style
// (../shared/STYLE.md) that the compiler cannot enforce, run over the
// source of the whole module. It has no code: nothing may import it.
package styletest
