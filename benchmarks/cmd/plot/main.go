// Command plot draws CSV files written by cmd/overload over time, one line
// per file, in three panels: p99 latency, pending tasks and RSS.
//
//	go run ./cmd/plot -out overload.png before=results/x/before.csv after=results/x/after.csv
package main

import (
	"encoding/csv"
	"flag"
	"image/color"
	"log"
	"os"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// panels are the CSV columns drawn, each in its own panel.
// Counts that grow without bound in one run and stay flat in another are
// drawn on a log scale, so both can be read.
var panels = []struct {
	column, title string
	log           bool
}{
	{"p99_ms", "p99 latency of chat requests answered in each second (ms)", false},
	{"pending", "pending background tasks (log scale)", true},
	{"rss_mb", "RSS, MiB (log scale)", true},
}

var colors = []color.Color{color.RGBA{R: 200, A: 255}, color.RGBA{B: 200, A: 255}, color.RGBA{G: 150, A: 255}}

func main() {
	out := flag.String("out", "overload.png", "PNG file to write")
	flag.Parse()
	img := vgimg.New(8*vg.Inch, 9*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadY: vg.Centimeter / 2, PadTop: vg.Centimeter / 4}
	end := 0.0 // every panel spans the longest run
	for _, arg := range flag.Args() {
		_, path, _ := strings.Cut(arg, "=")
		if c := column(path, "seconds", false); len(c) > 0 {
			end = max(end, c[len(c)-1].X)
		}
	}
	for i, p := range panels {
		pl := plot.New()
		pl.Title.Text = p.title
		pl.X.Label.Text = "seconds since the load began (SIGTERM at the end of the load)"
		pl.X.Min, pl.X.Max = 0, end
		if p.log {
			pl.Y.Scale, pl.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		}
		for j, arg := range flag.Args() {
			name, path, _ := strings.Cut(arg, "=")
			l, err := plotter.NewLine(column(path, p.column, p.log))
			if err != nil {
				log.Fatal(err)
			}
			l.Color = colors[j%len(colors)]
			l.Width = vg.Points(1.5)
			pl.Add(l)
			pl.Legend.Add(name, l)
		}
		pl.Legend.Top, pl.Legend.Left = true, true
		pl.Draw(tiles.At(dc, 0, i))
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		log.Fatal(err)
	}
}

// column reads (seconds, col) points from a cmd/overload CSV, skipping
// samples the run could not take (negative). On a log scale, 0 is drawn as 1.
func column(path, col string, logScale bool) plotter.XYs {
	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comment = '#'
	recs, err := r.ReadAll()
	if err != nil || len(recs) < 2 {
		log.Fatalf("%s: %v (%d rows)", path, err, len(recs))
	}
	at := -1
	for i, h := range recs[0] {
		if h == col {
			at = i
		}
	}
	if at < 0 {
		log.Fatalf("%s has no column %q", path, col)
	}
	var xy plotter.XYs
	for _, rec := range recs[1:] {
		x, _ := strconv.ParseFloat(rec[0], 64)
		y, err := strconv.ParseFloat(rec[at], 64)
		if err != nil || y < 0 {
			continue
		}
		if logScale && y < 1 {
			y = 1
		}
		xy = append(xy, plotter.XY{X: x, Y: y})
	}
	return xy
}
