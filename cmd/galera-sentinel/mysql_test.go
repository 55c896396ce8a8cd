package main

import (
	"context"
	"database/sql/driver"
	"net"

	"github.com/go-sql-driver/mysql"
)

func mysqlConfig(addr, user, password string, dial func(context.Context, string, string) (net.Conn, error)) driver.Connector {
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.User, cfg.Passwd = "tcp", addr, user, password
	cfg.DialFunc = dial
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		panic(err)
	}
	return c
}
