//! The timeline chart: inline SVG of the app's slowest transaction and longest lock wait per
//! slice, failed transactions, the phase boundaries and `lock_timeout`.

use std::fmt::Write as _;

use super::{downsample, esc, MAX_POINTS};
use crate::rehearse::report::RehearsalReport;

/// Writing to a `String` cannot fail.
macro_rules! w {
    ($s:expr, $($arg:tt)*) => {
        let _ = write!($s, $($arg)*);
    };
}

// The chart's geometry, in SVG user units (the SVG scales to the page's width).
const W: f64 = 1200.0;
const H: f64 = 460.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 48.0;

/// Maps seconds and milliseconds to chart coordinates: x linear from 0 to `end`, y on a log
/// scale from `10^lo` to `10^hi` milliseconds (whole decades, at least one).
struct Scale {
    end: f64,
    lo: f64,
    hi: f64,
}

impl Scale {
    fn x(&self, t: f64) -> f64 {
        let t = if t.is_finite() {
            t.clamp(0.0, self.end)
        } else {
            0.0
        };
        LEFT + t / self.end * (W - LEFT - RIGHT)
    }
    fn y(&self, ms: f64) -> f64 {
        let floor = H - BOTTOM;
        if !(ms.is_finite() && ms > 0.0) {
            return floor;
        }
        let e = ms.log10().clamp(self.lo, self.hi);
        floor - (e - self.lo) / (self.hi - self.lo) * (H - BOTTOM - TOP)
    }
}

fn fmt_ms_tick(decade: i32) -> String {
    let v = 10f64.powi(decade);
    if v >= 1000.0 {
        format!("{} s", v / 1000.0)
    } else {
        format!("{v} ms")
    }
}

/// A step of 1, 2 or 5 times a power of ten giving about ten ticks over `span`.
fn tick_step(span: f64) -> f64 {
    let raw = (span / 10.0).max(1e-3);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

pub(super) fn timeline(s: &mut String, r: &RehearsalReport) {
    let samples = downsample(&r.timeline, MAX_POINTS);
    let step = match (samples.first(), samples.last()) {
        (Some(a), Some(b)) if samples.len() > 1 && b.t > a.t => {
            (b.t - a.t) / (samples.len() - 1) as f64
        }
        _ => 0.1,
    };
    let lock_timeout_ms = r.lock_timeout.as_secs_f64() * 1e3;
    let end = samples.last().map_or(0.0, |x| x.t + step).max(
        r.phases
            .iter()
            .map(|p| p.start + p.duration.as_secs_f64())
            .fold(0.0, f64::max),
    );
    let end = if end.is_finite() && end > 0.0 {
        end
    } else {
        1.0
    };
    let values = || {
        samples
            .iter()
            .flat_map(|x| [x.max_ms, x.lock_wait_ms])
            .filter(|v| v.is_finite() && *v > 0.0)
    };
    // Whole decades from the smallest value (at least 0.1 ms) to the largest or lock_timeout
    // (at most 10^7 ms, larger values sit on the top edge).
    let min = values().fold(f64::INFINITY, f64::min);
    let lo = if min.is_finite() {
        min.log10().floor().clamp(-1.0, 3.0)
    } else {
        0.0
    };
    let top = values().fold(lock_timeout_ms.max(0.0), f64::max);
    let hi = if top > 0.0 {
        top.log10().ceil().clamp(lo + 1.0, 7.0)
    } else {
        lo + 1.0
    };
    let sc = Scale { end, lo, hi };
    let (floor, plot_top) = (H - BOTTOM, TOP);

    w!(
        s,
        "<svg id=\"timeline\" viewBox=\"0 0 {W} {H}\" role=\"img\" \
         aria-label=\"the app's latency and lock waits over the rehearsal\">\n"
    );
    // Phase bands, then the grid, then the series, then boundaries and labels on top.
    for (i, p) in r.phases.iter().enumerate() {
        let (x0, x1) = (sc.x(p.start), sc.x(p.start + p.duration.as_secs_f64()));
        // Shaded: every other phase, and in red the one that failed.
        let bad = p.error.is_some();
        if i % 2 == 1 || bad {
            w!(
                s,
                "<rect class=\"band{}\" x=\"{x0:.1}\" y=\"{plot_top}\" width=\"{:.1}\" \
                 height=\"{:.1}\"/>\n",
                if bad { " bad" } else { "" },
                (x1 - x0).max(0.0),
                floor - plot_top
            );
        }
    }
    for d in (lo as i32)..=(hi as i32) {
        let y = sc.y(10f64.powi(d));
        w!(
            s,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            fmt_ms_tick(d)
        );
    }
    let tstep = tick_step(end);
    let mut i = 0;
    while (i as f64) * tstep <= end + 1e-9 && i <= 100 {
        let t = i as f64 * tstep;
        let x = sc.x(t);
        let label = if tstep < 1.0 {
            format!("{t:.1}")
        } else {
            format!("{t:.0}")
        };
        w!(
            s,
            "<line class=\"axis\" x1=\"{x:.1}\" y1=\"{floor}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>\n",
            floor + 5.0,
            floor + 19.0
        );
        i += 1;
    }
    w!(
        s,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{floor}\" x2=\"{:.1}\" y2=\"{floor}\"/>\n\
         <line class=\"axis\" x1=\"{LEFT}\" y1=\"{plot_top}\" x2=\"{LEFT}\" y2=\"{floor}\"/>\n\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">seconds since the app workload started</text>\n\
         <text transform=\"translate(16 {:.1}) rotate(-90)\" text-anchor=\"middle\">milliseconds (log scale)</text>\n",
        W - RIGHT,
        (LEFT + W - RIGHT) / 2.0,
        H - 8.0,
        (plot_top + floor) / 2.0
    );

    // Lock waits: a bar per slice from the floor up to the longest wait seen in it.
    let bar = (sc.x(step) - sc.x(0.0)).max(1.0);
    s.push_str("<g class=\"lock-wait\">\n");
    for x in samples.iter().filter(|x| x.lock_wait_ms > 0.0) {
        let y = sc.y(x.lock_wait_ms);
        w!(
            s,
            "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{:.1}\">\
             <title>{:.1} s: an app query had waited {:.0} ms for a lock</title></rect>\n",
            sc.x(x.t),
            floor - y,
            x.t,
            x.lock_wait_ms
        );
    }
    s.push_str("</g>\n");

    // Latency: the slowest transaction per slice; a slice where none finished breaks the line.
    let mut d = String::new();
    let mut pen_down = false;
    for x in &samples {
        if x.transactions == 0 && x.max_ms <= 0.0 {
            pen_down = false;
            continue;
        }
        let (px, py) = (sc.x(x.t + step / 2.0), sc.y(x.max_ms));
        if pen_down {
            w!(d, "L{px:.1},{py:.1}");
        } else {
            // A lone point still shows: a tiny segment with round caps.
            w!(d, "M{px:.1},{py:.1}l0.5,0");
            pen_down = true;
        }
    }
    w!(s, "<path class=\"latency\" d=\"{d}\"/>\n");

    // Failed app transactions: a mark at the top of the plot.
    s.push_str("<g class=\"failed\">\n");
    for x in samples.iter().filter(|x| x.failed > 0) {
        w!(
            s,
            "<path d=\"M{:.1},{:.1}l-5,-9h10z\"><title>{:.1} s: {} app transaction{} failed</title></path>\n",
            sc.x(x.t + step / 2.0),
            plot_top + 10.0,
            x.t,
            x.failed,
            if x.failed == 1 { "" } else { "s" }
        );
    }
    s.push_str("</g>\n");

    // Phase boundaries: a line where each phase starts, a dotted one where it ends unless the
    // next phase starts there; labels run down along the start line, nudged apart when close.
    let mut last_label = f64::NEG_INFINITY;
    for (i, p) in r.phases.iter().enumerate() {
        let stop = p.start + p.duration.as_secs_f64();
        let x0 = sc.x(p.start);
        w!(
            s,
            "<line class=\"boundary\" x1=\"{x0:.1}\" y1=\"{plot_top}\" x2=\"{x0:.1}\" y2=\"{floor}\">\
             <title>{} starts at {:.1} s</title></line>\n",
            esc(&p.label),
            p.start
        );
        let next = r.phases.get(i + 1).map(|n| n.start);
        if next.is_none_or(|n| (n - stop).abs() > 1e-6) {
            let x1 = sc.x(stop);
            w!(
                s,
                "<line class=\"boundary end\" x1=\"{x1:.1}\" y1=\"{plot_top}\" x2=\"{x1:.1}\" \
                 y2=\"{floor}\"><title>{} ends at {stop:.1} s</title></line>\n",
                esc(&p.label)
            );
        }
        let lx = (x0 + 4.0).max(last_label + 13.0);
        last_label = lx;
        w!(
            s,
            "<text class=\"phase-label\" transform=\"translate({lx:.1} {:.1}) rotate(90)\">{}</text>\n",
            plot_top + 16.0,
            esc(&p.label)
        );
    }
    // lock_timeout last, its label over any phase label it crosses.
    if lock_timeout_ms > 0.0 {
        let y = sc.y(lock_timeout_ms);
        w!(
            s,
            "<line class=\"lock-timeout\" x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>\
             <text class=\"lock-timeout-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">\
             lock_timeout {} ms</text>\n",
            W - RIGHT,
            W - RIGHT - 4.0,
            y - 5.0,
            r.lock_timeout.as_millis()
        );
    }

    if samples.is_empty() {
        w!(
            s,
            "<text class=\"empty\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">\
             no samples: the app workload recorded nothing</text>\n",
            (LEFT + W - RIGHT) / 2.0,
            (plot_top + floor) / 2.0
        );
    }
    s.push_str("</svg>\n");
    w!(
        s,
        "<div class=\"legend\"><span class=\"k-latency\">slowest app transaction per {:.1} s</span>\
         <span class=\"k-lock\">longest lock wait</span><span class=\"k-failed\">failed app \
         transactions</span><span class=\"k-timeout\">lock_timeout</span>\
         <span class=\"k-boundary\">phase boundary</span></div>\n",
        step
    );
}
