package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// apiCounts are the API server's request and watch-event counters
// (its /metrics): what every client of a row cost it, by kind. A row's
// table is the difference of two scrapes, per pod.
type apiCounts map[string]float64

// scrapeAPI reads the counters; nil when /metrics cannot be read (the
// figures then are left out).
func scrapeAPI(env *k8senv.Env) apiCounts {
	b, err := env.Client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		return nil
	}
	out := apiCounts{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var key string
		switch {
		case strings.HasPrefix(line, "apiserver_request_total{"):
			l := promLabels(line)
			if l["resource"] == "" {
				continue
			}
			r := l["resource"]
			if l["subresource"] != "" {
				r += "/" + l["subresource"]
			}
			key = "request " + l["verb"] + " " + r + " " + l["code"]
		case strings.HasPrefix(line, "apiserver_watch_events_total{"):
			l := promLabels(line)
			key = "watch event " + l["resource"] + l["kind"]
		case strings.HasPrefix(line, "apiserver_watch_events_sizes_sum{"):
			l := promLabels(line)
			key = "watch bytes " + l["resource"] + l["kind"]
		default:
			continue
		}
		f := strings.Fields(line[strings.LastIndexByte(line, '}')+1:])
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err == nil {
			out[key] += v
		}
	}
	return out
}

// promLabels parses the labels of a Prometheus text line.
func promLabels(line string) map[string]string {
	out := map[string]string{}
	s := line[strings.IndexByte(line, '{')+1 : strings.LastIndexByte(line, '}')]
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq < 0 || eq+1 >= len(s) || s[eq+1] != '"' {
			break
		}
		end := strings.IndexByte(s[eq+2:], '"')
		if end < 0 {
			break
		}
		out[s[:eq]] = s[eq+2 : eq+2+end]
		s = strings.TrimPrefix(s[eq+2+end+1:], ",")
	}
	return out
}

// perPod returns the counters that moved between a and b, per pod, as
// sorted lines (those under 0.01 per pod left out).
func (b apiCounts) perPod(a apiCounts, pods int) string {
	if a == nil || b == nil || pods <= 0 {
		return ""
	}
	var lines []string
	for k, v := range b {
		d := (v - a[k]) / float64(pods)
		if d >= 0.01 {
			lines = append(lines, fmt.Sprintf("    %-60s %8.2f", k, d))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// writes is the number of mutating requests counted.
func (a apiCounts) writes() float64 {
	var n float64
	for k, v := range a {
		for _, verb := range []string{"request POST ", "request PUT ", "request PATCH ", "request DELETE "} {
			if strings.HasPrefix(k, verb) {
				n += v
			}
		}
	}
	return n
}
