// Package kube holds the end-to-end tests of deploy/kubernetes on a real
// single-node Kubernetes (internal/testkube): the image built here, the
// manifests we ship (through overlays/e2e), real client traffic through
// the client Service, and the failures of the seeds replayed on it.
//
// The tests are behind the e2ek8s build tag (`make e2e-k8s`): they build
// Kubernetes and an image, take the machine's one test cluster, and need
// root. They must never reach past this machine (see internal/testkube).
package kube
