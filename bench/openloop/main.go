// Command openloop sends HTTP requests at a fixed offered rate (open loop) over at most C
// connections and prints latency percentiles measured from each request's *intended* start.
//
// Why not wrk: wrk is closed-loop. With 20 connections and no think time every client sends its
// next request the moment an answer arrives, so the run measures the server's saturation
// throughput (p50 ~= 20 / throughput, Little's law), not the latency users see at a given load.
// wrk's delay() adds think time, but a slow answer then delays the next request and the stall is
// never counted ("coordinated omission"). Here arrivals follow a seeded Poisson process at the
// offered rate, each request waits for one of the C connections, and its latency runs from when
// it should have been sent: queueing behind busy connections is counted, as wrk2 does.
//
// Input (-requests FILE): one JSON object per line, {"method": "GET", "path": "/search?q=x",
// "body": null or "..."}; requests are sent in file order, cycling. Output: one JSON object.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"
)

type request struct {
	Method string  `json:"method"`
	Path   string  `json:"path"`
	Body   *string `json:"body"`
}

type job struct {
	req      request
	intended time.Time
}

type result struct {
	latency time.Duration // from the intended start
	service time.Duration // from the actual send
	status  int
	err     error
}

func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p / 100 * float64(len(sorted)-1))
	return float64(sorted[i].Microseconds()) / 1000
}

func main() {
	base := flag.String("url", "", "base URL, e.g. http://127.0.0.1:8000")
	file := flag.String("requests", "", "JSON lines of requests")
	rate := flag.Float64("rate", 300, "offered requests per second")
	conns := flag.Int("connections", 20, "connections (clients) at most in flight")
	seconds := flag.Float64("seconds", 10, "how long requests are offered")
	seed := flag.Int64("seed", 1, "seed of the Poisson arrivals")
	flag.Parse()

	f, err := os.Open(*file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var reqs []request
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 1<<24)
	for scanner.Scan() {
		var r request
		if err := json.Unmarshal(scanner.Bytes(), &r); err != nil {
			fmt.Fprintln(os.Stderr, "bad request line:", err)
			os.Exit(2)
		}
		reqs = append(reqs, r)
	}
	f.Close()
	if len(reqs) == 0 {
		fmt.Fprintln(os.Stderr, "no requests")
		os.Exit(2)
	}

	transport := &http.Transport{MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns, DisableCompression: true}
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	// Room for every request the run can offer (Poisson: twice the mean is far beyond any real
	// draw), so the scheduler never blocks: queueing behind busy connections shows up as latency.
	capacity := int(*rate**seconds*2) + 1024
	jobs := make(chan job, capacity)
	results := make(chan result, capacity)
	var wg sync.WaitGroup
	for w := 0; w < *conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				sent := time.Now()
				var body io.Reader
				if j.req.Body != nil {
					body = bytes.NewBufferString(*j.req.Body)
				}
				hr, _ := http.NewRequest(j.req.Method, *base+j.req.Path, body)
				if body != nil {
					hr.Header.Set("Content-Type", "application/json")
				}
				resp, err := client.Do(hr)
				status := 0
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					status = resp.StatusCode
				}
				done := time.Now()
				results <- result{done.Sub(j.intended), done.Sub(sent), status, err}
			}
		}()
	}

	rng := rand.New(rand.NewSource(*seed))
	start := time.Now().Add(50 * time.Millisecond)
	end := start.Add(time.Duration(*seconds * float64(time.Second)))
	next := start
	offered := 0
	for next.Before(end) && offered < capacity {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		jobs <- job{reqs[offered%len(reqs)], next}
		offered++
		next = next.Add(time.Duration(rng.ExpFloat64() / *rate * float64(time.Second)))
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	close(results)

	var lat, svc []time.Duration
	errors, non2xx := 0, 0
	var firstErr string
	for r := range results {
		switch {
		case r.err != nil:
			errors++
			if firstErr == "" {
				firstErr = r.err.Error()
			}
		case r.status < 200 || r.status > 299:
			non2xx++
			if firstErr == "" {
				firstErr = fmt.Sprintf("HTTP %d", r.status)
			}
		default:
			lat = append(lat, r.latency)
			svc = append(svc, r.service)
		}
	}
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	sort.Slice(svc, func(a, b int) bool { return svc[a] < svc[b] })
	out := map[string]any{
		"offered": offered, "offered_rate": float64(offered) / *seconds, "answered": len(lat),
		"achieved_rate": float64(len(lat)) / elapsed.Seconds(), "errors": errors, "non_2xx": non2xx,
		"first_error": firstErr,
		"p50_ms":      percentile(lat, 50), "p90_ms": percentile(lat, 90), "p99_ms": percentile(lat, 99),
		"max_ms":         percentile(lat, 100),
		"service_p50_ms": percentile(svc, 50), "service_p99_ms": percentile(svc, 99),
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		os.Exit(2)
	}
}
