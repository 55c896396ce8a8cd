package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/discovery"
	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
)

// memberView is one member as its sentinel's /status shows it.
type memberView struct {
	Addr   string            `json:"sentinel"`
	Status *health.StatusDoc `json:"status,omitempty"`
	Err    string            `json:"error,omitempty"`
}

// statusClient reads /status documents: short timeouts, no proxy, small
// bodies.
type statusClient struct {
	http   *http.Client
	scheme string
}

func newStatusClient(timeout time.Duration, caFile string) (*statusClient, error) {
	c := &statusClient{scheme: "http"}
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: timeout}).DialContext,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   1,
		Proxy:                 nil,
	}
	if caFile != "" {
		tc, err := peer.ClientTLS(caFile)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig, tr.TLSHandshakeTimeout, c.scheme = tc, timeout, "https"
	}
	c.http = &http.Client{Transport: tr, Timeout: timeout}
	return c, nil
}

// views asks every sentinel in addrs at once.
func (c *statusClient) views(ctx context.Context, addrs []string) []memberView {
	out := make([]memberView, len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = memberView{Addr: a}
			doc, err := c.status(ctx, a)
			if err != nil {
				out[i].Err = err.Error()
				return
			}
			out[i].Status = doc
		}()
	}
	wg.Wait()
	return out
}

func (c *statusClient) status(ctx context.Context, addr string) (*health.StatusDoc, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.scheme+"://"+addr+"/status", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	var doc health.StatusDoc
	dec := json.NewDecoder(io.LimitReader(resp.Body, 64<<10))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode /status: %w", err)
	}
	return &doc, nil
}

// renderTable prints one row per member. extra, when set, adds columns:
// its header, then a value per member.
func renderTable(w io.Writer, views []memberView, extraHeader string, extra func(memberView) string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	hdr := "MEMBER\tSENTINEL\tREADY\tSTATE\tSIZE\tSEQNO\tINDEX\tWRITER\tCLIENTS"
	if extra != nil {
		hdr += "\t" + extraHeader
	}
	fmt.Fprintln(tw, hdr+"\tWHY")
	for _, v := range views {
		cols := []string{"-", v.Addr, "?", "unreachable", "-", "-", "-", "-", "-"}
		why := v.Err
		if d := v.Status; d != nil {
			cols[2] = yesNo(d.Ready.OK)
			cols[3] = "-"
			switch {
			case d.Stopping:
				cols[3] = "stopping"
			case d.Hold != "":
				cols[3] = "not started"
			}
			if s := d.Sample; s != nil {
				cols[0] = s.NodeName
				if cols[3] == "-" {
					cols[3] = s.ClusterStatus + "/" + s.LocalState
				}
				cols[4] = strconv.Itoa(s.ClusterSize)
				cols[5] = strconv.FormatInt(s.LastCommitted, 10)
				cols[6] = strconv.Itoa(s.LocalIndex)
				cols[8] = strconv.Itoa(max(s.ThreadsConnected-1, 0))
			}
			if d.Maintenance {
				cols[3] += " (maintenance)"
			}
			cols[7] = map[bool]string{true: "*", false: ""}[d.Writer.OK]
			why = d.Ready.Reason
		}
		if extra != nil {
			cols = append(cols, extra(v))
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t")+"\t"+why)
	}
	tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// runStatus prints the cluster as its sentinels see it.
func runStatus(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var peers, peersDNS, dnsServer, caFile, format string
	var port int
	var timeout time.Duration
	fs.StringVar(&peers, "peers", "127.0.0.1:9200", "the members' sentinel addresses, host:port,...")
	fs.StringVar(&peersDNS, "peers-dns", "", "DNS name whose records are the members (instead of --peers)")
	fs.IntVar(&port, "peer-port", 9200, "sentinel port of the members found by --peers-dns")
	fs.StringVar(&dnsServer, "dns-server", "", "host:port of the DNS server for --peers-dns (default: /etc/resolv.conf)")
	fs.StringVar(&caFile, "tls-ca-file", "", "the sentinels serve HTTPS; trust this CA (PEM)")
	fs.DurationVar(&timeout, "timeout", 2*time.Second, "bound on each call to a sentinel")
	fs.StringVar(&format, "format", "table", "table or json")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: galera-sentinel status [flags]\n\nPrint one row per member, from each sentinel's /status. Exits 1 when a member does not answer.\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: status takes no arguments, got %q", errUsage, fs.Args())
	}
	if format != "table" && format != "json" {
		return fmt.Errorf("%w: --format=%q: want table or json", errUsage, format)
	}
	if timeout <= 0 {
		return fmt.Errorf("%w: --timeout=%s: must be positive", errUsage, timeout)
	}
	var src discovery.Source
	if peersDNS != "" {
		src = discovery.DNS{Name: peersDNS, Port: port, Server: dnsServer, Timeout: timeout}
	} else {
		st, err := discovery.ParseStatic(peers)
		if err != nil {
			return fmt.Errorf("%w: --peers: %w", errUsage, err)
		}
		src = st
	}
	addrs, err := src.Peers(ctx)
	if err != nil {
		return err
	}
	c, err := newStatusClient(timeout, caFile)
	if err != nil {
		return err
	}
	views := c.views(ctx, addrs)
	if format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(views); err != nil {
			return err
		}
	} else {
		renderTable(stdout, views, "", nil)
	}
	var down []string
	for _, v := range views {
		if v.Status == nil {
			down = append(down, v.Addr)
		}
	}
	if len(down) > 0 {
		return fmt.Errorf("no answer from %s", strings.Join(down, ", "))
	}
	return nil
}
