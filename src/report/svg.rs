//! SVG building blocks: escaping, linear scales with nice ticks, colour ramps and a small writer.
//!
//! Charts are plain strings of SVG elements; styling (fonts, greys) comes from the page's CSS
//! classes so each element stays short. Every chart is an `<svg role="img">` with a `<title>` and
//! a `<desc>` that screen readers announce, and every data mark carries its own `<title>` (the
//! browser shows it as a tooltip).

use std::fmt::Write;

/// Escapes text for HTML and SVG (element content and quoted attribute values).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate with at most one decimal (`12.0` -> `12`), to keep the file small.
pub fn n(v: f64) -> String {
    if !v.is_finite() {
        return "0".into();
    }
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

/// Maps a domain interval linearly onto a range of pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Linear {
    pub d0: f64,
    pub d1: f64,
    pub r0: f64,
    pub r1: f64,
}

impl Linear {
    pub fn new(domain: (f64, f64), range: (f64, f64)) -> Self {
        Linear {
            d0: domain.0,
            d1: domain.1,
            r0: range.0,
            r1: range.1,
        }
    }

    /// The pixel of a value; values outside the domain are clamped to its ends.
    pub fn map(&self, v: f64) -> f64 {
        let span = self.d1 - self.d0;
        if span == 0.0 || !span.is_finite() || !v.is_finite() {
            return self.r0;
        }
        let t = ((v - self.d0) / span).clamp(0.0, 1.0);
        self.r0 + t * (self.r1 - self.r0)
    }
}

/// Round tick values covering `[lo, hi]` with about `count` steps of 1, 2 or 5 x 10^k. Returns
/// the widened domain (first and last tick) and the ticks.
pub fn nice_ticks(lo: f64, hi: f64, count: usize) -> (f64, f64, Vec<f64>) {
    let (mut lo, mut hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0, vec![0.0, 0.5, 1.0]);
    }
    if (hi - lo).abs() < 1e-12 {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        lo -= pad;
        hi += pad;
    }
    let raw = (hi - lo) / count.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * 0.999)
        .unwrap_or(10.0 * mag);
    let start = (lo / step).floor() * step;
    let end = (hi / step).ceil() * step;
    let mut ticks = Vec::new();
    let mut i = 0.0;
    while start + i * step <= end + step * 1e-9 && ticks.len() < 50 {
        let t = start + i * step;
        // Avoid `-0` and float dust such as 0.30000000000000004.
        ticks.push(if t.abs() < step * 1e-9 {
            0.0
        } else {
            (t / step).round() * step
        });
        i += 1.0;
    }
    (start, end, ticks)
}

/// A colour ramp: stops at positions 0..1, interpolated in RGB.
#[derive(Debug, Clone, Copy)]
pub struct Ramp(pub &'static [(f64, [u8; 3])]);

/// Light to dark blue, for shares (funnel rates, logo retention).
pub const BLUES: Ramp = Ramp(&[
    (0.0, [239, 246, 255]),
    (0.25, [191, 219, 254]),
    (0.5, [96, 165, 250]),
    (0.75, [37, 99, 235]),
    (1.0, [30, 58, 138]),
]);

/// Red through white to green, centred on the middle of the domain (revenue retention: 100%).
pub const RED_GREEN: Ramp = Ramp(&[
    (0.0, [185, 28, 28]),
    (0.25, [252, 165, 165]),
    (0.5, [248, 250, 252]),
    (0.75, [134, 239, 172]),
    (1.0, [21, 128, 61]),
]);

impl Ramp {
    fn rgb(&self, t: f64) -> [u8; 3] {
        let t = if t.is_finite() {
            t.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let stops = self.0;
        let Some(first) = stops.first() else {
            return [128, 128, 128];
        };
        let mut prev = *first;
        for &(pos, c) in stops.iter().skip(1) {
            if t <= pos {
                let span = pos - prev.0;
                let f = if span > 0.0 { (t - prev.0) / span } else { 0.0 };
                let mix =
                    |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * f).round() as u8;
                return [
                    mix(prev.1[0], c[0]),
                    mix(prev.1[1], c[1]),
                    mix(prev.1[2], c[2]),
                ];
            }
            prev = (pos, c);
        }
        prev.1
    }

    /// The colour at `t` in 0..1 as `#rrggbb`.
    pub fn color(&self, t: f64) -> String {
        let [r, g, b] = self.rgb(t);
        format!("#{r:02x}{g:02x}{b:02x}")
    }

    /// Whether text on the colour at `t` should be white (relative luminance below 0.4).
    pub fn is_dark(&self, t: f64) -> bool {
        let [r, g, b] = self.rgb(t);
        let lin = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b) < 0.4
    }
}

/// Colours shared by the charts (the page's CSS uses the same).
pub mod color {
    pub const MUTED: &str = "#6b7280";
    pub const GRID: &str = "#e5e7eb";
    pub const PRIMARY: &str = "#2563eb";
    pub const PRIMARY_LIGHT: &str = "#bfdbfe";
    pub const GOOD: &str = "#16a34a";
    pub const BAD: &str = "#dc2626";
    pub const WARN: &str = "#d97706";
    pub const NULL: &str = "#f3f4f6";
    pub const TARGET: &str = "#111827";
}

/// An SVG document being written.
#[derive(Debug)]
pub struct Svg {
    id: String,
    width: f64,
    height: f64,
    title: String,
    desc: String,
    defs: String,
    body: String,
}

impl Svg {
    /// A chart `id` of `width` x `height` user units (it scales down to its container).
    pub fn new(id: &str, width: f64, height: f64, title: &str, desc: &str) -> Self {
        Svg {
            id: id.to_string(),
            width,
            height,
            title: title.to_string(),
            desc: desc.to_string(),
            defs: String::new(),
            body: String::new(),
        }
    }

    /// Appends raw SVG markup (callers escape any text in it with [`esc`]).
    pub fn raw(&mut self, s: &str) {
        self.body.push_str(s);
    }

    /// Appends a definition (gradients) to `<defs>`.
    pub fn def(&mut self, s: &str) {
        self.defs.push_str(s);
    }

    /// A rectangle; `tip` becomes its tooltip when not empty.
    #[allow(clippy::too_many_arguments)]
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, class: &str, tip: &str) {
        let _ = write!(
            self.body,
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{fill}""#,
            n(x),
            n(y),
            n(w.max(0.0)),
            n(h.max(0.0))
        );
        if !class.is_empty() {
            let _ = write!(self.body, r#" class="{class}""#);
        }
        if tip.is_empty() {
            self.body.push_str("/>");
        } else {
            let _ = write!(self.body, "><title>{}</title></rect>", esc(tip));
        }
    }

    /// A line segment.
    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str, extra: &str) {
        let _ = write!(
            self.body,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{stroke}"{}{extra}/>"#,
            n(x1),
            n(y1),
            n(x2),
            n(y2),
            if extra.is_empty() { "" } else { " " }
        );
    }

    /// Text at (x, y); `anchor` is `start`, `middle` or `end`; `class` selects the CSS style.
    pub fn text(&mut self, x: f64, y: f64, anchor: &str, class: &str, content: &str) {
        let _ = write!(
            self.body,
            r#"<text x="{}" y="{}" text-anchor="{anchor}" class="{class}">{}</text>"#,
            n(x),
            n(y),
            esc(content)
        );
    }

    /// A circle with an optional tooltip.
    pub fn circle(&mut self, cx: f64, cy: f64, r: f64, fill: &str, tip: &str) {
        let _ = write!(
            self.body,
            r#"<circle cx="{}" cy="{}" r="{}" fill="{fill}""#,
            n(cx),
            n(cy),
            n(r)
        );
        if tip.is_empty() {
            self.body.push_str("/>");
        } else {
            let _ = write!(self.body, "><title>{}</title></circle>", esc(tip));
        }
    }

    /// The finished `<svg>` element.
    pub fn finish(self) -> String {
        let id = esc(&self.id);
        let defs = if self.defs.is_empty() {
            String::new()
        } else {
            format!("<defs>{}</defs>", self.defs)
        };
        format!(
            r#"<svg id="{id}" class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-labelledby="{id}-t {id}-d"><title id="{id}-t">{title}</title><desc id="{id}-d">{desc}</desc>{defs}{body}</svg>"#,
            w = n(self.width),
            h = n(self.height),
            title = esc(&self.title),
            desc = esc(&self.desc),
            body = self.body
        )
    }
}

/// Builds a path through points; `None` breaks the line (a NULL is a gap, not a zero).
pub fn path_with_gaps(points: &[Option<(f64, f64)>]) -> String {
    let mut d = String::new();
    let mut pen_down = false;
    for p in points {
        match p {
            Some((x, y)) => {
                let _ = write!(d, "{}{},{}", if pen_down { "L" } else { "M" }, n(*x), n(*y));
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    d
}
