//! Plots as inline SVG, drawn from the numbers the tables print: a scatter
//! (with its Pareto front and reference points marked) and a bar chart. The
//! text is deterministic: fixed decimals, no randomness, nothing fetched.
//!
//! Every data point is one `<circle class="point ...">` and every bar one
//! `<rect class="bar ...">`, each with a `<title>` naming its values, so a
//! reader can hover and a test can count.

use std::fmt::Write as _;

mod scale;

use scale::Scale;

/// Width and height of every plot, in SVG units (pixels at 100%).
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 320.0;
/// Room for the axes' ticks and labels.
const LEFT: f64 = 72.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 56.0;
/// Width of a tick label's character at the font size used (10).
const CHAR_WIDTH: f64 = 6.0;

/// An axis: its label (with the unit) and whether it is logarithmic.
#[derive(Clone, Debug)]
pub struct Axis {
    pub label: String,
    pub log: bool,
}

/// One point of a scatter.
#[derive(Clone, Debug)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub label: String,
    /// A short mark written beside the point (its row number in a table),
    /// where it overlaps nothing.
    pub tag: String,
    /// A reference (the float original), drawn hollow.
    pub reference: bool,
}

/// A scatter plot; `front` holds the indices of the points on the Pareto
/// front, in the order the line joins them.
#[derive(Clone, Debug)]
pub struct Scatter {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub points: Vec<Point>,
    pub front: Vec<usize>,
}

/// One bar.
#[derive(Clone, Debug)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    /// Drawn in the accent colour (a bottleneck, zeros).
    pub marked: bool,
}

/// A bar chart over categories.
#[derive(Clone, Debug)]
pub struct Bars {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub bars: Vec<Bar>,
}

/// Indices of the points on the Pareto front of "larger `y` with smaller
/// `x`": no other point has `x` at most and `y` at least theirs with one of
/// them strictly better. In increasing `x`.
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| {
        points[a].0.total_cmp(&points[b].0).then(points[b].1.total_cmp(&points[a].1))
    });
    let mut front = Vec::new();
    let mut best = f64::NEG_INFINITY;
    for i in order {
        if points[i].1 > best {
            best = points[i].1;
            front.push(i);
        }
    }
    front
}

/// Text safe inside an element or an attribute.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// A number for a tick or a title: few digits, thousands separated.
pub fn number(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if a >= 1000.0 {
        let whole = format!("{:.0}", a);
        let mut grouped = String::new();
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        return if v < 0.0 { format!("-{grouped}") } else { grouped };
    }
    let decimals = if a >= 10.0 {
        0
    } else if a >= 1.0 {
        1
    } else {
        (-a.log10().floor()) as usize + 1
    };
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn open(s: &mut String, title: &str, class: &str) {
    let _ = write!(
        s,
        "<svg class=\"plot {class}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" \
         height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
         aria-label=\"{t}\"><title>{t}</title>\
         <text class=\"title\" x=\"{x:.1}\" y=\"16\" text-anchor=\"middle\">{t}</text>",
        t = escape(title),
        x = WIDTH / 2.0,
    );
}

/// The frame, the y axis's ticks and grid, and both axis labels.
fn frame(s: &mut String, y: &Scale, x_label: &str, y_label: &str) {
    let (x0, x1, y0, y1) = (LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP);
    for t in y.ticks() {
        let py = y.at(t);
        let _ = write!(
            s,
            "<line class=\"grid\" x1=\"{x0:.1}\" y1=\"{py:.1}\" x2=\"{x1:.1}\" y2=\"{py:.1}\"/>\
             <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            x0 - 6.0,
            py + 3.5,
            y.tick_text(t)
        );
    }
    let _ = write!(
        s,
        "<rect class=\"frame\" x=\"{x0:.1}\" y=\"{y1:.1}\" width=\"{:.1}\" height=\"{:.1}\"/>\
         <text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
         <text class=\"label\" transform=\"translate(14 {:.1}) rotate(-90)\" \
         text-anchor=\"middle\">{}</text>",
        x1 - x0,
        y0 - y1,
        (x0 + x1) / 2.0,
        HEIGHT - 10.0,
        escape(x_label),
        (y0 + y1) / 2.0,
        escape(y_label)
    );
}

impl Scatter {
    pub fn svg(&self) -> String {
        let x = Scale::new(self.points.iter().map(|p| p.x), self.x.log, LEFT, WIDTH - RIGHT);
        let y = Scale::new(self.points.iter().map(|p| p.y), self.y.log, HEIGHT - BOTTOM, TOP);
        let mut s = String::new();
        open(&mut s, &self.title, "scatter");
        frame(&mut s, &y, &self.x.label, &self.y.label);
        for t in x.ticks() {
            let px = x.at(t);
            let _ = write!(
                s,
                "<line class=\"tickmark\" x1=\"{px:.1}\" y1=\"{y0:.1}\" x2=\"{px:.1}\" \
                 y2=\"{:.1}\"/><text class=\"tick\" x=\"{px:.1}\" y=\"{:.1}\" \
                 text-anchor=\"middle\">{}</text>",
                HEIGHT - BOTTOM + 4.0,
                HEIGHT - BOTTOM + 16.0,
                x.tick_text(t),
                y0 = HEIGHT - BOTTOM,
            );
        }
        if self.front.len() > 1 {
            let path: Vec<String> = self
                .front
                .iter()
                .map(|&i| format!("{:.1},{:.1}", x.at(self.points[i].x), y.at(self.points[i].y)))
                .collect();
            let _ = write!(s, "<polyline class=\"front\" points=\"{}\"/>", path.join(" "));
        }
        for (i, p) in self.points.iter().enumerate() {
            let class = match (p.reference, self.front.contains(&i)) {
                (true, _) => "point reference",
                (false, true) => "point on-front",
                (false, false) => "point",
            };
            let _ = write!(
                s,
                "<circle class=\"{class}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4.5\"><title>{}: {}, \
                 {}</title></circle>",
                x.at(p.x),
                y.at(p.y),
                escape(&p.label),
                escape(&format!("{} {}", number(p.x), self.x.label)),
                escape(&format!("{} {}", number(p.y), self.y.label)),
            );
        }
        let mut taken = Vec::new();
        let centres: Vec<(f64, f64)> = self.points.iter().map(|p| (x.at(p.x), y.at(p.y))).collect();
        for (p, (px, py)) in self.points.iter().zip(&centres) {
            if let Some((tx, ty)) = place_tag(&p.tag, (*px, *py), &centres, &mut taken) {
                let _ = write!(
                    s,
                    "<text class=\"tag\" x=\"{tx:.1}\" y=\"{ty:.1}\">{}</text>",
                    escape(&p.tag)
                );
            }
        }
        s.push_str("</svg>");
        s
    }
}

/// A box on the plot: left, top, right, bottom.
type Rect = (f64, f64, f64, f64);

fn overlaps(a: Rect, b: Rect) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

/// Where `tag` goes beside the point at `at`: right, left, above or below,
/// the first spot that overlaps no point, no tag placed before and stays in
/// the frame; `None` (no tag) when there is none.
fn place_tag(
    tag: &str,
    at: (f64, f64),
    points: &[(f64, f64)],
    taken: &mut Vec<Rect>,
) -> Option<(f64, f64)> {
    if tag.is_empty() {
        return None;
    }
    let (w, h) = (tag.chars().count() as f64 * CHAR_WIDTH, 10.0);
    let spots = [
        (at.0 + 6.0, at.1 + 3.5),
        (at.0 - 6.0 - w, at.1 + 3.5),
        (at.0 - w / 2.0, at.1 - 7.0),
        (at.0 - w / 2.0, at.1 + 15.0),
    ];
    for (tx, ty) in spots {
        let rect = (tx, ty - h + 1.0, tx + w, ty + 1.0);
        let inside =
            rect.0 > LEFT && rect.2 < WIDTH - RIGHT && rect.1 > TOP && rect.3 < HEIGHT - BOTTOM;
        let hits_point =
            points.iter().any(|&(cx, cy)| overlaps(rect, (cx - 4.5, cy - 4.5, cx + 4.5, cy + 4.5)));
        if inside && !hits_point && !taken.iter().any(|&t| overlaps(rect, t)) {
            taken.push(rect);
            return Some((tx, ty));
        }
    }
    None
}

impl Bars {
    pub fn svg(&self) -> String {
        let values = self.bars.iter().map(|b| b.value).chain([0.0]);
        let mut y = Scale::new(values, false, HEIGHT - BOTTOM, TOP);
        y.lo = 0.0; // bars stand on zero
        let mut s = String::new();
        open(&mut s, &self.title, "bars");
        frame(&mut s, &y, &self.x_label, &self.y_label);
        let n = self.bars.len().max(1) as f64;
        let slot = (WIDTH - RIGHT - LEFT) / n;
        // Every k-th label, so that none overlaps the next one shown.
        let widest = self.bars.iter().map(|b| b.label.chars().count()).max().unwrap_or(1) as f64;
        let every = ((widest * CHAR_WIDTH + 4.0) / slot).ceil().max(1.0) as usize;
        for (i, b) in self.bars.iter().enumerate() {
            let left = LEFT + slot * i as f64;
            let top = y.at(b.value.max(0.0));
            let class = if b.marked { "bar marked" } else { "bar" };
            let _ = write!(
                s,
                "<rect class=\"{class}\" x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" \
                 height=\"{:.1}\"><title>{}: {}</title></rect>",
                left + slot * 0.1,
                slot * 0.8,
                (HEIGHT - BOTTOM - top).max(0.0),
                escape(&b.label),
                number(b.value),
            );
            if i % every == 0 {
                let _ = write!(
                    s,
                    "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                    left + slot / 2.0,
                    HEIGHT - BOTTOM + 14.0,
                    escape(&b.label)
                );
            }
        }
        s.push_str("</svg>");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_front_keeps_the_points_nothing_beats() {
        // (size, accuracy): 1 beats 0, 3 and 4 (smaller or as small, and
        // better); 2 is the most accurate; 5 is between them.
        let pts =
            [(10.0, 0.80), (5.0, 0.85), (20.0, 0.90), (12.0, 0.70), (5.0, 0.60), (15.0, 0.88)];
        assert_eq!(pareto_front(&pts), vec![1, 5, 2]);
        assert!(pareto_front(&[]).is_empty());
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(number(0.0), "0");
        assert_eq!(number(123456.0), "123,456");
        assert_eq!(number(-2500.0), "-2,500");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(90.0), "90");
        assert_eq!(number(0.0004), "0.0004");
        assert_eq!(escape("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
    }

    #[test]
    fn tags_overlap_no_point_and_no_other_tag() {
        // A tight cluster and a spread: some tags find no room and are left out.
        let points: Vec<(f64, f64)> = (0..30)
            .map(|i| {
                let i = i as f64;
                (LEFT + 20.0 + (i * 37.0) % 500.0, TOP + 20.0 + (i * 53.0) % 200.0 + i % 3.0)
            })
            .chain((0..10).map(|i| (300.0 + i as f64, 150.0 + i as f64)))
            .collect();
        let mut taken = Vec::new();
        let placed: Vec<_> = points
            .iter()
            .enumerate()
            .filter_map(|(i, &p)| place_tag(&format!("{}", i + 1), p, &points, &mut taken))
            .collect();
        assert_eq!(placed.len(), taken.len());
        assert!(taken.len() > 20 && taken.len() < points.len(), "{}", taken.len());
        for (i, &a) in taken.iter().enumerate() {
            assert!(taken[..i].iter().all(|&b| !overlaps(a, b)));
            assert!(points
                .iter()
                .all(|&(x, y)| !overlaps(a, (x - 4.5, y - 4.5, x + 4.5, y + 4.5))));
        }
    }

    #[test]
    fn one_element_per_point_and_bar() {
        let scatter = Scatter {
            title: "a".into(),
            x: Axis { label: "bytes".into(), log: true },
            y: Axis { label: "%".into(), log: false },
            points: (0..7)
                .map(|i| Point {
                    x: 100.0 * (i + 1) as f64,
                    y: i as f64,
                    label: format!("m{i}"),
                    tag: format!("{i}"),
                    reference: i == 6,
                })
                .collect(),
            front: vec![0, 1],
        };
        assert_eq!(scatter.svg().matches("<circle class=\"point").count(), 7);
        let bars = Bars {
            title: "b".into(),
            x_label: "code".into(),
            y_label: "weights".into(),
            bars: (0..40)
                .map(|i| Bar { label: format!("{i}"), value: i as f64, marked: false })
                .collect(),
        };
        let svg = bars.svg();
        assert_eq!(svg.matches("<rect class=\"bar").count(), 40);
        // Labels thinned so they do not overlap: fewer than one per bar.
        assert!(svg.matches("class=\"tick\"").count() < 40 + 12);
    }
}
