// Command durableplot draws, from one run of run.sh, the example service's
// throughput and p99 latency by client count with usage rows batched in
// memory (the default) and with -durable, on SQLite and on Postgres
// (BenchmarkDurableLoad's medians).
//
//	go run ./cmd/durableplot -out results/durable-plot/durable.png results/RUN.txt
package main

import (
	"flag"
	"image/color"
	"log"
	"os"

	"github.com/fxtools/background/benchmarks/internal/figures"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var (
	dbs     = []string{"sqlite", "postgres"}
	modes   = []string{"batch", "durable"}
	names   = map[string]string{"sqlite/batch": "SQLite, in memory", "sqlite/durable": "SQLite, -durable", "postgres/batch": "Postgres, in memory", "postgres/durable": "Postgres, -durable"}
	clients = []string{"16", "128"}
	colors  = []color.Color{color.RGBA{R: 240, G: 150, B: 150, A: 255}, color.RGBA{R: 200, A: 255}, color.RGBA{R: 150, G: 150, B: 240, A: 255}, color.RGBA{B: 200, A: 255}}
)

func main() {
	out := flag.String("out", "durable.png", "PNG file to write")
	flag.Parse()
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		log.Fatal(err)
	}
	r, err := figures.Parse(f)
	_ = f.Close()
	if err != nil {
		log.Fatal(err)
	}
	img := vgimg.New(8*vg.Inch, 7*vg.Inch)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadY: vg.Centimeter / 2, PadTop: vg.Centimeter / 4}
	for i, p := range []struct{ unit, title string }{{"req/s", "throughput (requests/s)"}, {"p99-ms", "p99 latency (ms)"}} {
		pl := plot.New()
		pl.Title.Text = p.title + ", by client count"
		pl.NominalX(clients...)
		w := vg.Points(22)
		k := 0
		for _, db := range dbs {
			for _, mode := range modes {
				var v plotter.Values
				for _, c := range clients {
					v = append(v, r.Median("BenchmarkDurableLoad/db="+db+"/clients="+c+"/mode="+mode+"-2", p.unit))
				}
				bars, err := plotter.NewBarChart(v, w)
				if err != nil {
					log.Fatal(err)
				}
				bars.Color, bars.LineStyle.Width = colors[k], 0
				bars.Offset = w * vg.Length(2*k-3) / 2
				pl.Add(bars)
				pl.Legend.Add(names[db+"/"+mode], bars)
				k++
			}
		}
		pl.X.Min, pl.X.Max = -1.8, 1.6 // room on the left for the legend
		pl.Legend.Top, pl.Legend.Left = true, true
		pl.Draw(tiles.At(draw.New(img), 0, i))
	}
	if err := r.Err(); err != nil {
		log.Fatal(err)
	}
	w, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(w); err != nil {
		log.Fatal(err)
	}
}
