package config

import (
	"testing"

	"github.com/galera-sentinel/galera-sentinel/internal/testsentinel"
)

func TestMain(m *testing.M) { testsentinel.Main(m) }
