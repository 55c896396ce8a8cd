// Command bare is the ceiling /readyz is measured against (bench/probe.sh):
// a net/http server that answers every request with a 7-byte body and does
// nothing else. It is not part of the product.
package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: bare LISTEN-ADDR")
		os.Exit(2)
	}
	body := []byte("ready.\n")
	err := http.ListenAndServe(os.Args[1], http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(body)
	}))
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
