//! The report's charts, each a function from plain data to one `<svg>` string.
//!
//! Charts know nothing of tables or SQL: the page module turns query results into these inputs,
//! which keeps every chart testable with a handful of numbers. A value of `None` is a NULL in the
//! published data (a ratio whose denominator is 0): it is drawn as a grey cell or a gap in a
//! line, never as zero.

use super::format;
use super::svg::{color, esc, n, nice_ticks, path_with_gaps, Linear, Ramp, Svg};
use std::fmt::Write;

/// Formats an axis or cell value.
pub type Fmt = fn(Option<f64>) -> String;

fn legend_item(svg: &mut Svg, x: f64, y: f64, label: &str, fill: &str, kind: LegendKind) -> f64 {
    match kind {
        LegendKind::Swatch => svg.rect(x, y - 9.0, 12.0, 12.0, fill, "sw", ""),
        LegendKind::Line => svg.line(x, y - 3.0, x + 14.0, y - 3.0, fill, r#"stroke-width="3""#),
        LegendKind::Dashed => svg.line(
            x,
            y - 3.0,
            x + 14.0,
            y - 3.0,
            fill,
            r#"stroke-width="2" stroke-dasharray="4 3""#,
        ),
    }
    svg.text(x + 18.0, y, "start", "lg", label);
    // Approximate advance: 6.2 px per character at the legend's 11 px font.
    x + 18.0 + label.chars().count() as f64 * 6.2 + 16.0
}

#[derive(Debug, Clone, Copy)]
enum LegendKind {
    Swatch,
    Line,
    Dashed,
}

// ---------------------------------------------------------------------------------------------
// Heatmap

/// One cell of a cohort heatmap.
#[derive(Debug, Clone, PartialEq)]
pub enum HeatCell {
    /// Past the horizon of the cohort (a month that has not happened yet): not drawn.
    Outside,
    /// A published cell; `value` is `None` when the ratio is NULL.
    Value { value: Option<f64>, tip: String },
}

/// One cohort (row) of a heatmap.
#[derive(Debug, Clone)]
pub struct HeatRow {
    pub label: String,
    /// The cohort size, shown right of the label.
    pub size: String,
    pub cells: Vec<HeatCell>,
}

/// A cohort heatmap: cohorts down, months since the cohort's start across.
#[derive(Debug, Clone)]
pub struct Heatmap<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub desc: &'a str,
    pub row_header: &'a str,
    pub size_header: &'a str,
    pub col_header: &'a str,
    pub columns: usize,
    /// The first column shown (leading columns without any value can be left out).
    pub col_offset: usize,
    pub rows: Vec<HeatRow>,
    pub ramp: Ramp,
    pub domain: (f64, f64),
    /// Text inside a cell and on the legend.
    pub fmt: Fmt,
}

/// Layout of a heatmap: where each cell goes (exposed for tests).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeatLayout {
    pub left: f64,
    pub top: f64,
    pub cell_w: f64,
    pub cell_h: f64,
    pub width: f64,
    pub height: f64,
}

impl Heatmap<'_> {
    pub fn layout(&self) -> HeatLayout {
        let left = 150.0;
        let top = 40.0;
        let cols = self.columns.saturating_sub(self.col_offset).max(1) as f64;
        let cell_w = ((1150.0 - left) / cols).clamp(26.0, 56.0);
        let cell_h = 19.0;
        let width = left + cols * cell_w + 8.0;
        let height = top + self.rows.len() as f64 * cell_h + 64.0;
        HeatLayout {
            left,
            top,
            cell_w,
            cell_h,
            width,
            height,
        }
    }

    /// Position of a value on the colour ramp (0..1).
    pub fn ramp_position(&self, v: f64) -> f64 {
        let (lo, hi) = self.domain;
        if hi <= lo {
            return 0.5;
        }
        ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
    }

    pub fn render(&self) -> String {
        let l = self.layout();
        let mut svg = Svg::new(self.id, l.width, l.height, self.title, self.desc);
        let shown = self.columns.saturating_sub(self.col_offset);
        svg.text(
            l.left + shown as f64 * l.cell_w / 2.0,
            13.0,
            "middle",
            "axl",
            self.col_header,
        );
        svg.text(4.0, l.top - 8.0, "start", "axl", self.row_header);
        svg.text(l.left - 6.0, l.top - 8.0, "end", "axl", self.size_header);
        for c in self.col_offset..self.columns {
            svg.text(
                l.left + ((c - self.col_offset) as f64 + 0.5) * l.cell_w,
                l.top - 8.0,
                "middle",
                "ax",
                &c.to_string(),
            );
        }
        let show_text = l.cell_w >= 28.0;
        for (r, row) in self.rows.iter().enumerate() {
            let y = l.top + r as f64 * l.cell_h;
            svg.text(4.0, y + l.cell_h * 0.68, "start", "ax", &row.label);
            svg.text(l.left - 6.0, y + l.cell_h * 0.68, "end", "ax mu", &row.size);
            for (c, cell) in row
                .cells
                .iter()
                .enumerate()
                .take(self.columns)
                .skip(self.col_offset)
            {
                let HeatCell::Value { value, tip } = cell else {
                    continue;
                };
                let x = l.left + (c - self.col_offset) as f64 * l.cell_w;
                let v = value.filter(|v| v.is_finite());
                let (fill, dark) = match v {
                    Some(v) => {
                        let t = self.ramp_position(v);
                        (self.ramp.color(t), self.ramp.is_dark(t))
                    }
                    None => (color::NULL.to_string(), false),
                };
                svg.rect(
                    x + 0.5,
                    y + 0.5,
                    l.cell_w - 1.0,
                    l.cell_h - 1.0,
                    &fill,
                    "",
                    tip,
                );
                if show_text {
                    let class = match (v.is_some(), dark) {
                        (false, _) => "cv mu",
                        (true, true) => "cv inv",
                        (true, false) => "cv",
                    };
                    svg.text(
                        x + l.cell_w / 2.0,
                        y + l.cell_h * 0.68,
                        "middle",
                        class,
                        &(self.fmt)(v),
                    );
                }
            }
        }
        // Legend: the colour ramp with its ends, and the swatch for a NULL.
        let ly = l.top + self.rows.len() as f64 * l.cell_h + 26.0;
        let gid = format!("{}-grad", self.id);
        let mut stops = String::new();
        for (pos, _) in self.ramp.0 {
            let _ = write!(
                stops,
                r#"<stop offset="{}" stop-color="{}"/>"#,
                n(pos * 100.0) + "%",
                self.ramp.color(*pos)
            );
        }
        svg.def(&format!(
            r#"<linearGradient id="{}">{stops}</linearGradient>"#,
            esc(&gid)
        ));
        let lx = l.left;
        svg.rect(
            lx,
            ly - 10.0,
            180.0,
            12.0,
            &format!("url(#{})", esc(&gid)),
            "sw",
            "",
        );
        svg.text(
            lx,
            ly + 16.0,
            "start",
            "ax",
            &(self.fmt)(Some(self.domain.0)),
        );
        svg.text(
            lx + 180.0,
            ly + 16.0,
            "end",
            "ax",
            &(self.fmt)(Some(self.domain.1)),
        );
        legend_item(
            &mut svg,
            lx + 200.0,
            ly + 1.0,
            "no value (NULL: nothing to divide by yet)",
            color::NULL,
            LegendKind::Swatch,
        );
        svg.finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Line chart with a target

/// One line of a line chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub color: String,
    pub values: Vec<Option<f64>>,
    pub width: f64,
}

/// A target drawn as a dashed line, with the side that meets it shaded.
#[derive(Debug, Clone)]
pub struct Target {
    pub value: f64,
    pub label: String,
    pub higher_is_better: bool,
}

/// Whether `v` meets a target.
pub fn meets(v: f64, target: f64, higher_is_better: bool) -> bool {
    if higher_is_better {
        v >= target
    } else {
        v <= target
    }
}

/// Months across, one or more series, an optional target.
#[derive(Debug, Clone)]
pub struct LineChart<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub desc: &'a str,
    pub x_labels: Vec<String>,
    pub series: Vec<Series>,
    pub target: Option<Target>,
    pub y_label: &'a str,
    pub fmt: Fmt,
    /// Values above this are drawn at the top edge (so one outlier does not flatten the rest).
    pub y_cap: Option<f64>,
}

impl LineChart<'_> {
    /// The y domain: from 0 (or the lowest value) to the highest value or the target, capped.
    pub fn y_domain(&self) -> (f64, f64, Vec<f64>) {
        let mut lo: f64 = 0.0;
        let mut hi: f64 = f64::MIN;
        for v in self.series.iter().flat_map(|s| &s.values).flatten() {
            if v.is_finite() {
                lo = lo.min(*v);
                hi = hi.max(*v);
            }
        }
        if let Some(t) = &self.target {
            hi = hi.max(t.value * 1.15);
        }
        if let Some(cap) = self.y_cap {
            hi = hi.min(cap);
        }
        if hi <= lo {
            hi = lo + 1.0;
        }
        nice_ticks(lo, hi, 5)
    }

    pub fn render(&self) -> String {
        let (w, h) = (720.0, 290.0);
        let (ml, mr, mt, mb) = (62.0, 16.0, 34.0, 40.0);
        let mut svg = Svg::new(self.id, w, h, self.title, self.desc);
        let (lo, hi, ticks) = self.y_domain();
        let y = Linear::new((lo, hi), (h - mb, mt));
        let count = self.x_labels.len().max(1);
        let step = (w - ml - mr) / count as f64;
        let x = |i: usize| ml + (i as f64 + 0.5) * step;
        if let Some(t) = &self.target {
            let ty = y.map(t.value);
            let (band_top, band_bottom) = if t.higher_is_better {
                (mt, ty)
            } else {
                (ty, h - mb)
            };
            svg.rect(
                ml,
                band_top,
                w - ml - mr,
                band_bottom - band_top,
                "#f0fdf4",
                "",
                "",
            );
        }
        for t in &ticks {
            let py = y.map(*t);
            svg.line(ml, py, w - mr, py, color::GRID, "");
            svg.text(ml - 6.0, py + 4.0, "end", "ax", &(self.fmt)(Some(*t)));
        }
        svg.raw(&format!(
            r#"<text class="axl" text-anchor="middle" transform="translate(14 {}) rotate(-90)">{}</text>"#,
            n((mt + h - mb) / 2.0),
            esc(self.y_label)
        ));
        let every = count.div_ceil(12);
        for (i, label) in self.x_labels.iter().enumerate() {
            if (count - 1 - i).is_multiple_of(every) {
                svg.text(x(i), h - mb + 16.0, "middle", "ax", label);
            }
        }
        svg.text((ml + w - mr) / 2.0, h - 6.0, "middle", "axl", "Month");
        if let Some(t) = &self.target {
            let ty = y.map(t.value);
            svg.line(
                ml,
                ty,
                w - mr,
                ty,
                color::TARGET,
                r#"stroke-width="1.5" stroke-dasharray="6 4""#,
            );
        }
        for s in &self.series {
            let pts: Vec<Option<(f64, f64)>> = s
                .values
                .iter()
                .enumerate()
                .map(|(i, v)| v.filter(|v| v.is_finite()).map(|v| (x(i), y.map(v))))
                .collect();
            svg.raw(&format!(
                r#"<path d="{}" fill="none" stroke="{}" stroke-width="{}" stroke-linejoin="round"/>"#,
                path_with_gaps(&pts),
                s.color,
                n(s.width)
            ));
            for (i, v) in s.values.iter().enumerate() {
                let Some(v) = v.filter(|v| v.is_finite()) else {
                    continue;
                };
                let label = self.x_labels.get(i).map(String::as_str).unwrap_or("");
                let tip = format!("{} · {label}: {}", s.name, (self.fmt)(Some(v)));
                let fill = match &self.target {
                    Some(t) if !meets(v, t.value, t.higher_is_better) => color::BAD,
                    _ => s.color.as_str(),
                };
                if v > hi {
                    // Beyond the cap: a triangle on the top edge, with the real value as tooltip.
                    let (px, py) = (x(i), y.map(hi));
                    svg.raw(&format!(
                        r#"<path d="M{},{}l4,7h-8z" fill="{fill}"><title>{} (above the axis)</title></path>"#,
                        n(px),
                        n(py - 2.0),
                        esc(&tip)
                    ));
                } else {
                    svg.circle(x(i), y.map(v), 3.0, fill, &tip);
                }
            }
        }
        let mut lx = ml;
        for s in &self.series {
            lx = legend_item(&mut svg, lx, 16.0, &s.name, &s.color, LegendKind::Line);
        }
        if let Some(t) = &self.target {
            lx = legend_item(
                &mut svg,
                lx,
                16.0,
                &t.label,
                color::TARGET,
                LegendKind::Dashed,
            );
            legend_item(
                &mut svg,
                lx,
                16.0,
                "misses target",
                color::BAD,
                LegendKind::Swatch,
            );
        }
        svg.finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Target grid: rows (channels) x months, each cell on or off target

/// Channels down, months across; a cell is green when it meets the target, red when it misses,
/// grey when NULL.
#[derive(Debug, Clone)]
pub struct TargetGrid<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub desc: &'a str,
    pub metric: &'a str,
    pub columns: Vec<String>,
    pub rows: Vec<(String, Vec<Option<f64>>)>,
    pub target: Target,
    pub fmt: Fmt,
}

impl TargetGrid<'_> {
    pub fn render(&self) -> String {
        let left = 96.0;
        let top = 30.0;
        let cw = ((800.0 - left) / self.columns.len().max(1) as f64).clamp(40.0, 64.0);
        let ch = 22.0;
        let w = left + cw * self.columns.len() as f64 + 8.0;
        let h = top + ch * self.rows.len() as f64 + 40.0;
        let mut svg = Svg::new(self.id, w, h, self.title, self.desc);
        for (c, label) in self.columns.iter().enumerate() {
            svg.text(
                left + (c as f64 + 0.5) * cw,
                top - 8.0,
                "middle",
                "ax",
                label,
            );
        }
        svg.text(4.0, top - 8.0, "start", "axl", "Channel");
        for (r, (name, values)) in self.rows.iter().enumerate() {
            let y = top + r as f64 * ch;
            svg.text(4.0, y + ch * 0.68, "start", "ax", name);
            for (c, v) in values.iter().enumerate().take(self.columns.len()) {
                let x = left + c as f64 * cw;
                let v = v.filter(|v| v.is_finite());
                let (fill, class, verdict) = match v {
                    Some(v) if meets(v, self.target.value, self.target.higher_is_better) => {
                        ("#bbf7d0", "cv good", "meets")
                    }
                    Some(_) => ("#fecaca", "cv bad", "misses"),
                    None => (color::NULL, "cv mu", "no value for"),
                };
                let month = self.columns.get(c).map(String::as_str).unwrap_or("");
                let tip = format!(
                    "{name} · {month}: {} {} ({verdict} the target {})",
                    self.metric,
                    (self.fmt)(v),
                    self.target.label
                );
                svg.rect(x + 0.5, y + 0.5, cw - 1.0, ch - 1.0, fill, "", &tip);
                svg.text(x + cw / 2.0, y + ch * 0.68, "middle", class, &(self.fmt)(v));
            }
        }
        let ly = top + ch * self.rows.len() as f64 + 24.0;
        let mut lx = left;
        lx = legend_item(
            &mut svg,
            lx,
            ly,
            &format!("meets {}", self.target.label),
            "#bbf7d0",
            LegendKind::Swatch,
        );
        lx = legend_item(&mut svg, lx, ly, "misses it", "#fecaca", LegendKind::Swatch);
        legend_item(
            &mut svg,
            lx,
            ly,
            "no value (no new customers)",
            color::NULL,
            LegendKind::Swatch,
        );
        svg.finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Horizontal bars, grouped

/// One bar.
#[derive(Debug, Clone)]
pub struct Bar {
    pub value: Option<f64>,
    pub color: String,
    pub tip: String,
}

/// A group of bars sharing a label (one bar for a simple bar chart).
#[derive(Debug, Clone)]
pub struct BarGroup {
    pub label: String,
    pub bars: Vec<Bar>,
    /// Text right of the group (e.g. `85% · 948 of 1,110`).
    pub note: String,
}

/// Horizontal bars: one group per row.
#[derive(Debug, Clone)]
pub struct HBars<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub desc: &'a str,
    pub groups: Vec<BarGroup>,
    /// Names and colours of the bars within a group (no legend for a single series).
    pub legend: Vec<(String, String)>,
    pub x_label: &'a str,
    pub fmt: Fmt,
    /// A fixed domain maximum (e.g. 1.0 for shares); otherwise the largest value.
    pub x_max: Option<f64>,
    /// Vertical reference lines (value, label).
    pub markers: Vec<(f64, String)>,
}

impl HBars<'_> {
    pub fn render(&self) -> String {
        let per_group = self
            .groups
            .iter()
            .map(|g| g.bars.len())
            .max()
            .unwrap_or(1)
            .max(1);
        let bar_h = if per_group == 1 { 20.0 } else { 13.0 };
        let group_h = bar_h * per_group as f64 + 14.0;
        let (ml, mr) = (132.0, 190.0);
        let mt = if self.legend.is_empty() && self.markers.is_empty() {
            10.0
        } else {
            30.0
        };
        let w = 720.0;
        let h = mt + group_h * self.groups.len() as f64 + 44.0;
        let mut svg = Svg::new(self.id, w, h, self.title, self.desc);
        let data_max = self
            .groups
            .iter()
            .flat_map(|g| &g.bars)
            .filter_map(|b| b.value)
            .filter(|v| v.is_finite())
            .chain(self.markers.iter().map(|m| m.0))
            .fold(0.0_f64, f64::max);
        let (_, hi, ticks) = nice_ticks(0.0, self.x_max.unwrap_or(data_max).max(1e-9), 5);
        let x = Linear::new((0.0, hi), (ml, w - mr));
        let bottom = h - 44.0;
        for t in &ticks {
            let px = x.map(*t);
            svg.line(px, mt - 4.0, px, bottom, color::GRID, "");
            svg.text(px, bottom + 16.0, "middle", "ax", &(self.fmt)(Some(*t)));
        }
        svg.text((ml + w - mr) / 2.0, h - 6.0, "middle", "axl", self.x_label);
        for (gi, g) in self.groups.iter().enumerate() {
            let gy = mt + gi as f64 * group_h + 7.0;
            let mid = gy + bar_h * g.bars.len() as f64 / 2.0;
            svg.text(ml - 8.0, mid + 4.0, "end", "lbl", &g.label);
            for (bi, b) in g.bars.iter().enumerate() {
                let by = gy + bi as f64 * bar_h;
                match b.value.filter(|v| v.is_finite()) {
                    Some(v) => svg.rect(
                        ml,
                        by + 1.0,
                        x.map(v.max(0.0)) - ml,
                        bar_h - 2.0,
                        &b.color,
                        "",
                        &b.tip,
                    ),
                    None => svg.text(ml + 4.0, by + bar_h * 0.72, "start", "ax mu", format::NONE),
                }
            }
            svg.text(w - mr + 10.0, mid + 4.0, "start", "ax", &g.note);
        }
        for (v, label) in &self.markers {
            let px = x.map(*v);
            svg.line(
                px,
                mt - 4.0,
                px,
                bottom,
                color::TARGET,
                r#"stroke-width="1.5" stroke-dasharray="5 3""#,
            );
            svg.text(px, mt - 8.0, "middle", "ax", label);
        }
        let mut lx = ml;
        if !self.legend.is_empty() {
            lx = ml.max(w - mr - 10.0 - self.legend.len() as f64 * 130.0);
        }
        for (name, c) in &self.legend {
            lx = legend_item(&mut svg, lx, 14.0, name, c, LegendKind::Swatch);
        }
        svg.finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Vertical bars (lift by decile)

/// Vertical bars with an optional baseline.
#[derive(Debug, Clone)]
pub struct VBars<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub desc: &'a str,
    pub labels: Vec<String>,
    pub bars: Vec<Bar>,
    pub baseline: Option<(f64, String)>,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub fmt: Fmt,
}

impl VBars<'_> {
    pub fn render(&self) -> String {
        let (w, h) = (420.0, 300.0);
        let (ml, mr, mt, mb) = (52.0, 12.0, 26.0, 42.0);
        let mut svg = Svg::new(self.id, w, h, self.title, self.desc);
        let max = self
            .bars
            .iter()
            .filter_map(|b| b.value)
            .filter(|v| v.is_finite())
            .chain(self.baseline.iter().map(|b| b.0))
            .fold(0.0_f64, f64::max);
        let (_, hi, ticks) = nice_ticks(0.0, max.max(1e-9), 5);
        let y = Linear::new((0.0, hi), (h - mb, mt));
        for t in &ticks {
            let py = y.map(*t);
            svg.line(ml, py, w - mr, py, color::GRID, "");
            svg.text(ml - 6.0, py + 4.0, "end", "ax", &(self.fmt)(Some(*t)));
        }
        let step = (w - ml - mr) / self.bars.len().max(1) as f64;
        for (i, b) in self.bars.iter().enumerate() {
            let x0 = ml + i as f64 * step;
            if let Some(v) = b.value.filter(|v| v.is_finite()) {
                let top = y.map(v.max(0.0));
                svg.rect(
                    x0 + step * 0.15,
                    top,
                    step * 0.7,
                    h - mb - top,
                    &b.color,
                    "",
                    &b.tip,
                );
                svg.text(
                    x0 + step / 2.0,
                    top - 4.0,
                    "middle",
                    "ax",
                    &(self.fmt)(Some(v)),
                );
            } else {
                svg.text(
                    x0 + step / 2.0,
                    h - mb - 4.0,
                    "middle",
                    "ax mu",
                    format::NONE,
                );
            }
            if let Some(label) = self.labels.get(i) {
                svg.text(x0 + step / 2.0, h - mb + 15.0, "middle", "ax", label);
            }
        }
        if let Some((v, label)) = &self.baseline {
            let py = y.map(*v);
            svg.line(
                ml,
                py,
                w - mr,
                py,
                color::TARGET,
                r#"stroke-width="1.5" stroke-dasharray="5 3""#,
            );
            svg.text(ml + 4.0, py - 5.0, "start", "ax", label);
        }
        svg.text((ml + w - mr) / 2.0, h - 6.0, "middle", "axl", self.x_label);
        svg.raw(&format!(
            r#"<text class="axl" text-anchor="middle" transform="translate(13 {}) rotate(-90)">{}</text>"#,
            n((mt + h - mb) / 2.0),
            esc(self.y_label)
        ));
        svg.finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Lead-score evaluation: ROC and calibration

/// Leads whose predicted probability falls in one bin (one threshold of the ROC curve).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreBin {
    /// The lowest predicted probability in the bin (the threshold that admits it).
    pub threshold: f64,
    pub leads: u64,
    pub positives: u64,
}

/// ROC points from score bins, from (0, 0) to (1, 1), and the area under them (ties within a bin
/// count half, as the trapezoid does). `None` when the bins hold no positive or no negative.
pub fn roc_curve(bins: &[ScoreBin]) -> Option<(Vec<(f64, f64)>, f64)> {
    let mut sorted: Vec<ScoreBin> = bins.to_vec();
    sorted.sort_by(|a, b| b.threshold.total_cmp(&a.threshold));
    let pos: u64 = sorted.iter().map(|b| b.positives).sum();
    let neg: u64 = sorted
        .iter()
        .map(|b| b.leads.saturating_sub(b.positives))
        .sum();
    if pos == 0 || neg == 0 {
        return None;
    }
    let mut points = vec![(0.0, 0.0)];
    let (mut tp, mut fp, mut auc) = (0u64, 0u64, 0.0);
    for b in &sorted {
        let (x0, y0) = (fp as f64 / neg as f64, tp as f64 / pos as f64);
        tp += b.positives;
        fp += b.leads.saturating_sub(b.positives);
        let (x1, y1) = (fp as f64 / neg as f64, tp as f64 / pos as f64);
        auc += (x1 - x0) * (y0 + y1) / 2.0;
        points.push((x1, y1));
    }
    Some((points, auc))
}

/// One curve of a ROC chart.
#[derive(Debug, Clone)]
pub struct RocLine {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub color: String,
    pub dashed: bool,
}

/// ROC curves (the first is the main one, shaded, with `auc` written on the chart).
pub fn roc_chart(id: &str, curves: &[RocLine], auc: Option<f64>, desc: &str) -> String {
    let (w, h): (f64, f64) = (420.0, 380.0);
    let (ml, mr, mt, mb) = (52.0, 18.0, 34.0, 44.0);
    let side = (w - ml - mr).min(h - mt - mb);
    let x = Linear::new((0.0, 1.0), (ml, ml + side));
    let y = Linear::new((0.0, 1.0), (mt + side, mt));
    let mut svg = Svg::new(id, w, h, "ROC curve of the holdout", desc);
    for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
        svg.line(x.map(t), mt, x.map(t), mt + side, color::GRID, "");
        svg.line(ml, y.map(t), ml + side, y.map(t), color::GRID, "");
        svg.text(
            x.map(t),
            mt + side + 15.0,
            "middle",
            "ax",
            &format::pct(Some(t), 0),
        );
        svg.text(
            ml - 6.0,
            y.map(t) + 4.0,
            "end",
            "ax",
            &format::pct(Some(t), 0),
        );
    }
    svg.line(
        x.map(0.0),
        y.map(0.0),
        x.map(1.0),
        y.map(1.0),
        color::MUTED,
        r#"stroke-dasharray="4 4""#,
    );
    for (i, c) in curves.iter().enumerate() {
        let mut line = String::new();
        for (j, (fx, ty)) in c.points.iter().enumerate() {
            let _ = write!(
                line,
                "{}{},{}",
                if j == 0 { "M" } else { "L" },
                n(x.map(*fx)),
                n(y.map(*ty))
            );
        }
        if i == 0 {
            svg.raw(&format!(
                r#"<path d="{line}L{},{}Z" fill="{}" opacity="0.35"/>"#,
                n(x.map(1.0)),
                n(y.map(0.0)),
                color::PRIMARY_LIGHT
            ));
        }
        let dash = if c.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        svg.raw(&format!(
            r#"<path d="{line}" fill="none" stroke="{}" stroke-width="{}"{dash}><title>{}</title></path>"#,
            c.color,
            if i == 0 { "2.5" } else { "1.8" },
            esc(&c.label)
        ));
        if i == 0 {
            for (fx, ty) in c
                .points
                .iter()
                .skip(1)
                .take(c.points.len().saturating_sub(2))
            {
                svg.circle(
                    x.map(*fx),
                    y.map(*ty),
                    3.0,
                    &c.color,
                    &format!(
                        "{} of converters found, {} of the others flagged",
                        format::pct(Some(*ty), 0),
                        format::pct(Some(*fx), 0)
                    ),
                );
            }
        }
    }
    if let Some(a) = auc {
        svg.text(
            x.map(0.97),
            y.map(0.06),
            "end",
            "big",
            &format!("AUC {}", format::num(Some(a), 3)),
        );
    }
    let mut lx = ml;
    for c in curves {
        let kind = if c.dashed {
            LegendKind::Dashed
        } else {
            LegendKind::Line
        };
        lx = legend_item(&mut svg, lx, 14.0, &c.label, &c.color, kind);
    }
    svg.text(
        ml + side / 2.0,
        h - 8.0,
        "middle",
        "axl",
        "False positive rate (non-converters flagged)",
    );
    svg.raw(&format!(
        r#"<text class="axl" text-anchor="middle" transform="translate(13 {}) rotate(-90)">True positive rate (converters found)</text>"#,
        n(mt + side / 2.0)
    ));
    svg.finish()
}

/// One decile of the calibration table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalibrationPoint {
    pub decile: i64,
    pub leads: f64,
    pub conversions: f64,
    pub mean_predicted: Option<f64>,
    pub observed_rate: Option<f64>,
}

/// Mean predicted against observed conversion per decile, with the tolerance band.
pub fn calibration_chart(id: &str, points: &[CalibrationPoint], tolerance: f64) -> String {
    let (w, h): (f64, f64) = (420.0, 360.0);
    let (ml, mr, mt, mb) = (52.0, 18.0, 14.0, 44.0);
    let side = (w - ml - mr).min(h - mt - mb);
    let max = points
        .iter()
        .flat_map(|p| [p.mean_predicted, p.observed_rate])
        .flatten()
        .filter(|v| v.is_finite())
        .fold(0.05_f64, f64::max);
    let (_, hi, ticks) = nice_ticks(0.0, max.min(1.0), 4);
    let x = Linear::new((0.0, hi), (ml, ml + side));
    let y = Linear::new((0.0, hi), (mt + side, mt));
    let mut svg = Svg::new(
        id,
        w,
        h,
        "Calibration by decile",
        &format!(
            "Mean predicted conversion probability against the observed conversion rate for each decile of the holdout; the band is ±{} around perfect calibration.",
            format::pct(Some(tolerance), 0)
        ),
    );
    for t in &ticks {
        svg.line(x.map(*t), mt, x.map(*t), mt + side, color::GRID, "");
        svg.line(ml, y.map(*t), ml + side, y.map(*t), color::GRID, "");
        svg.text(
            x.map(*t),
            mt + side + 15.0,
            "middle",
            "ax",
            &format::pct(Some(*t), 0),
        );
        svg.text(
            ml - 6.0,
            y.map(*t) + 4.0,
            "end",
            "ax",
            &format::pct(Some(*t), 0),
        );
    }
    // The band |observed - predicted| <= tolerance, clipped to the plot.
    let band = format!(
        "M{},{}L{},{}L{},{}L{},{}L{},{}L{},{}Z",
        n(x.map(0.0)),
        n(y.map(tolerance)),
        n(x.map((hi - tolerance).max(0.0))),
        n(y.map(hi)),
        n(x.map(hi)),
        n(y.map(hi)),
        n(x.map(hi)),
        n(y.map((hi - tolerance).max(0.0))),
        n(x.map(tolerance)),
        n(y.map(0.0)),
        n(x.map(0.0)),
        n(y.map(0.0)),
    );
    svg.raw(&format!(
        "<path d=\"{band}\" fill=\"#dcfce7\" opacity=\"0.8\"><title>Within ±{} of perfect calibration</title></path>",
        esc(&format::pct(Some(tolerance), 0))
    ));
    svg.line(
        x.map(0.0),
        y.map(0.0),
        x.map(hi),
        y.map(hi),
        color::MUTED,
        r#"stroke-dasharray="4 4""#,
    );
    for p in points {
        let (Some(pred), Some(obs)) = (p.mean_predicted, p.observed_rate) else {
            continue;
        };
        let ok = (obs - pred).abs() <= tolerance + 1e-12;
        let tip = format!(
            "Decile {}: predicted {}, observed {} ({} leads){}",
            p.decile,
            format::pct(Some(pred), 1),
            format::pct(Some(obs), 1),
            format::count(Some(p.leads)),
            if ok { "" } else { " — outside the tolerance" }
        );
        svg.circle(
            x.map(pred),
            y.map(obs),
            5.0,
            if ok { color::PRIMARY } else { color::BAD },
            &tip,
        );
        svg.text(
            x.map(pred) + 7.0,
            y.map(obs) - 5.0,
            "start",
            "ax mu",
            &p.decile.to_string(),
        );
    }
    svg.text(
        ml + side / 2.0,
        h - 8.0,
        "middle",
        "axl",
        "Mean predicted probability",
    );
    svg.raw(&format!(
        r#"<text class="axl" text-anchor="middle" transform="translate(13 {}) rotate(-90)">Observed conversion rate</text>"#,
        n(mt + side / 2.0)
    ));
    svg.finish()
}

// ---------------------------------------------------------------------------------------------
// Scorecard: sparklines and the phase strip

/// A 12-month trend of one scorecard metric, with its target.
pub fn sparkline(
    id: &str,
    title: &str,
    months: &[String],
    values: &[Option<f64>],
    target: &Target,
    fmt: Fmt,
) -> String {
    let (w, h) = (240.0, 64.0);
    let (ml, mr, mt, mb) = (4.0, 4.0, 8.0, 14.0);
    let finite: Vec<f64> = values
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let lo = finite.iter().copied().fold(target.value, f64::min);
    let hi = finite.iter().copied().fold(target.value, f64::max);
    let pad = ((hi - lo) * 0.1).max(hi.abs() * 0.02).max(1e-6);
    let y = Linear::new((lo - pad, hi + pad), (h - mb, mt));
    let count = values.len().max(1);
    let step = (w - ml - mr) / count as f64;
    let x = |i: usize| ml + (i as f64 + 0.5) * step;
    let desc = format!(
        "{title} over the last {} months against the target {}",
        values.len(),
        target.label
    );
    let mut svg = Svg::new(id, w, h, &format!("{title}: 12-month trend"), &desc);
    let ty = y.map(target.value);
    svg.line(
        ml,
        ty,
        w - mr,
        ty,
        color::TARGET,
        r#"stroke-width="1" stroke-dasharray="4 3""#,
    );
    let pts: Vec<Option<(f64, f64)>> = values
        .iter()
        .enumerate()
        .map(|(i, v)| v.filter(|v| v.is_finite()).map(|v| (x(i), y.map(v))))
        .collect();
    svg.raw(&format!(
        r#"<path d="{}" fill="none" stroke="{}" stroke-width="2"/>"#,
        path_with_gaps(&pts),
        color::PRIMARY
    ));
    for (i, v) in values.iter().enumerate() {
        let Some(v) = v.filter(|v| v.is_finite()) else {
            continue;
        };
        let ok = meets(v, target.value, target.higher_is_better);
        let month = months.get(i).map(String::as_str).unwrap_or("");
        svg.circle(
            x(i),
            y.map(v),
            if i + 1 == values.len() { 4.0 } else { 2.5 },
            if ok { color::GOOD } else { color::BAD },
            &format!("{month}: {}", fmt(Some(v))),
        );
    }
    if let (Some(first), Some(last)) = (months.first(), months.last()) {
        svg.text(ml, h - 2.0, "start", "ax mu", first);
        svg.text(w - mr, h - 2.0, "end", "ax mu", last);
    }
    svg.finish()
}

/// The three phases of the scaling framework, in order.
pub const PHASES: [(&str, &str, &str); 3] = [
    (
        "pursuing_product_market_fit",
        "Product-market fit",
        "#f59e0b",
    ),
    ("pursuing_go_to_market_fit", "Go-to-market fit", "#3b82f6"),
    ("growth_and_moat", "Growth & moat", "#16a34a"),
];

/// Label and colour of a phase value (unknown values are shown as they are, in grey).
pub fn phase_style(phase: Option<&str>) -> (String, &'static str) {
    match phase.and_then(|p| PHASES.iter().find(|(k, _, _)| *k == p)) {
        Some((_, label, c)) => (label.to_string(), c),
        None => (
            phase
                .map(str::to_string)
                .unwrap_or_else(|| format::NONE.into()),
            "#9ca3af",
        ),
    }
}

/// The phase of each of the last months, as a strip of coloured cells.
pub fn phase_strip(id: &str, months: &[String], phases: &[Option<String>]) -> String {
    let count = months.len().max(1);
    let (ml, w) = (4.0, 1120.0);
    let cw = (w - 2.0 * ml) / count as f64;
    let h = 74.0;
    let mut svg = Svg::new(
        id,
        w,
        h,
        "Scaling phase by month",
        "The phase of the scaling framework each month: product-market fit, then go-to-market fit, then growth and moat.",
    );
    for (i, m) in months.iter().enumerate() {
        let phase = phases.get(i).and_then(|p| p.as_deref());
        let (label, c) = phase_style(phase);
        let x = ml + i as f64 * cw;
        svg.rect(
            x + 1.0,
            4.0,
            cw - 2.0,
            22.0,
            c,
            "",
            &format!("{m}: {label}"),
        );
        svg.text(x + cw / 2.0, 42.0, "middle", "ax", m);
    }
    let mut lx = ml;
    for (_, label, c) in PHASES {
        lx = legend_item(&mut svg, lx, 66.0, label, c, LegendKind::Swatch);
    }
    svg.finish()
}
