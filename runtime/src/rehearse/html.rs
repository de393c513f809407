//! The rehearsal report as one self-contained HTML page: the verdict, the generated data, the
//! per-phase table, a timeline chart (inline SVG) of the app's latency and lock waits with the
//! phase boundaries and `lock_timeout`, the rollbacks and the full-size durations. No script,
//! no network, no external stylesheet or font: the file can be attached to a CI run as it is.

use std::fmt::Write as _;

use super::report::{RehearsalReport, Sample};

mod timeline;

/// A timeline longer than this is merged into buckets of consecutive samples, each keeping
/// its slowest transaction and longest lock wait, so a spike survives.
pub const MAX_POINTS: usize = 2000;

/// Writing to a `String` cannot fail.
macro_rules! w {
    ($s:expr, $($arg:tt)*) => {
        let _ = write!($s, $($arg)*);
    };
}

/// Escapes text and attribute values: every string from the report goes through this.
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

/// At most `max` samples: consecutive samples merged, the slowest transaction and the longest
/// lock wait of each bucket kept, transactions and failures summed.
pub fn downsample(samples: &[Sample], max: usize) -> Vec<Sample> {
    if samples.len() <= max || max == 0 {
        return samples.to_vec();
    }
    let per = samples.len().div_ceil(max);
    samples
        .chunks(per)
        .map(|c| Sample {
            t: c[0].t,
            transactions: c.iter().map(|s| s.transactions).sum(),
            max_ms: c.iter().map(|s| s.max_ms).fold(0.0, f64::max),
            lock_wait_ms: c.iter().map(|s| s.lock_wait_ms).fold(0.0, f64::max),
            failed: c.iter().map(|s| s.failed).sum(),
        })
        .collect()
}

/// The page's stylesheet, inlined.
const STYLE: &str = include_str!("html/report.css");

/// The page.
pub fn html(r: &RehearsalReport) -> String {
    let failures = r.failures();
    let mut s = String::with_capacity(64 * 1024);
    w!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Rehearsal {}: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        if failures.is_empty() {
            "passed"
        } else {
            "FAILED"
        },
        esc(&r.server)
    );
    header(&mut s, r);
    verdict(&mut s, &failures);
    loads(&mut s, r);
    phases(&mut s, r);
    s.push_str("<section id=\"timeline-section\">\n<h2>Timeline</h2>\n");
    timeline::timeline(&mut s, r);
    s.push_str("</section>\n");
    rollbacks(&mut s, r);
    if r.scale < 1.0 {
        extrapolated(&mut s, r);
    }
    s.push_str("</body>\n</html>\n");
    s
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

fn ms(d: std::time::Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

fn header(s: &mut String, r: &RehearsalReport) {
    let scale = if r.scale >= 1.0 {
        format!("{} (full size)", r.scale)
    } else if r.scale > 0.0 {
        format!("{} (1/{:.0} of full size)", r.scale, 1.0 / r.scale)
    } else {
        format!("{}", r.scale)
    };
    let rate = if r.rate > 0.0 {
        format!("{:.0} tx/s", r.rate)
    } else {
        "as fast as the clients go".to_string()
    };
    let pending = if r.pending.is_empty() {
        "<span class=\"muted\">none</span>".to_string()
    } else {
        r.pending
            .iter()
            .map(|p| format!("<code>{}</code>", esc(p)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    s.push_str("<header>\n<h1>Migration rehearsal</h1>\n<dl class=\"facts\">\n");
    let facts = [
        ("server", esc(&r.server), true),
        ("place", esc(&r.place), true),
        (
            "migrations directory",
            format!("<code>{}</code>", esc(&r.dir)),
            true,
        ),
        ("pending migrations", pending, true),
        ("scale", scale, false),
        ("app rate", rate, false),
        ("app clients", r.clients.to_string(), false),
        (
            "lock_timeout",
            format!("{} ms", r.lock_timeout.as_millis()),
            false,
        ),
    ];
    for (name, value, wide) in facts {
        w!(
            s,
            "<div{}><dt>{name}</dt><dd>{value}</dd></div>\n",
            if wide { " class=\"wide\"" } else { "" }
        );
    }
    s.push_str("</dl>\n</header>\n");
}

fn verdict(s: &mut String, failures: &[String]) {
    if failures.is_empty() {
        s.push_str(
            "<div id=\"verdict\" class=\"passed\"><span class=\"word\">PASSED</span> \
             no failed app transaction, no lock wait over lock_timeout, no disagreement, \
             every down restores its schema</div>\n",
        );
        return;
    }
    w!(
        s,
        "<div id=\"verdict\" class=\"failed\"><span class=\"word\">FAILED</span> \
         {} reason{} the rehearsal fails the deploy gate:\n<ul>\n",
        failures.len(),
        if failures.len() == 1 { "" } else { "s" }
    );
    for f in failures {
        w!(s, "<li>{}</li>\n", esc(f));
    }
    s.push_str("</ul>\n</div>\n");
}

fn loads(s: &mut String, r: &RehearsalReport) {
    s.push_str("<section id=\"loads\">\n<h2>Generated data</h2>\n");
    if r.loads.is_empty() {
        s.push_str("<p class=\"muted\">No data was generated.</p>\n</section>\n");
        return;
    }
    s.push_str(
        "<table>\n<thead><tr><th>table</th><th class=\"num\">rows</th>\
         <th class=\"num\">seconds</th><th class=\"num\">rows/s</th><th>row count from</th>\
         </tr></thead>\n<tbody>\n",
    );
    for l in &r.loads {
        w!(
            s,
            "<tr class=\"load\"><td><code>{}</code></td><td class=\"num\">{}</td>\
             <td class=\"num\">{:.1}</td><td class=\"num\">{}</td><td>{}</td></tr>\n",
            esc(&l.table),
            thousands(l.rows),
            l.seconds,
            thousands(l.rows_per_second().round() as u64),
            esc(&l.source)
        );
    }
    s.push_str("</tbody>\n</table>\n</section>\n");
}

fn phases(s: &mut String, r: &RehearsalReport) {
    let scaled = r.scale < 1.0;
    s.push_str("<section id=\"phases-section\">\n<h2>Phases</h2>\n<table id=\"phases\">\n");
    w!(
        s,
        "<thead><tr><th>phase</th><th>app version</th><th class=\"num\">start s</th>\
         <th class=\"num\">time s</th>{}<th class=\"num\">app tx</th>\
         <th class=\"num\">longest lock wait ms</th><th class=\"num\">p50 ms</th>\
         <th class=\"num\">p99 ms</th><th class=\"num\">max ms</th><th class=\"num\">failed</th>\
         </tr></thead>\n<tbody>\n",
        if scaled {
            "<th class=\"num\">full size s</th>"
        } else {
            ""
        }
    );
    let columns = if scaled { 11 } else { 10 };
    for p in &r.phases {
        let lock_bad = p.load.longest_lock_wait > r.lock_timeout;
        let bad = p.error.is_some() || p.load.failed > 0 || lock_bad || !p.disagreements.is_empty();
        let full = match (scaled, p.extrapolated) {
            (false, _) => String::new(),
            (true, Some(d)) => format!("<td class=\"num\">{:.1}</td>", d.as_secs_f64()),
            (true, None) => "<td class=\"num muted\">–</td>".to_string(),
        };
        let cls = |b: bool| if b { "num bad" } else { "num" };
        w!(
            s,
            "<tr class=\"phase\"{}><td>{}</td><td>{}</td><td class=\"num\">{:.1}</td>\
             <td class=\"num\">{:.1}</td>{full}<td class=\"num\">{}</td><td class=\"{}\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"{}\">{}</td></tr>\n",
            if bad { " data-bad=\"true\"" } else { "" },
            esc(&p.label),
            esc(&p.app),
            p.start,
            p.duration.as_secs_f64(),
            thousands(p.load.transactions),
            cls(lock_bad),
            ms(p.load.longest_lock_wait),
            ms(p.load.p50),
            ms(p.load.p99),
            ms(p.load.max),
            cls(p.load.failed > 0),
            thousands(p.load.failed)
        );
        if p.error.is_none() && p.load.first_error.is_none() && p.disagreements.is_empty() {
            continue;
        }
        w!(s, "<tr class=\"detail\"><td colspan=\"{columns}\">");
        if let Some(e) = &p.error {
            w!(s, "<div class=\"error\">the phase failed: {}</div>", esc(e));
        }
        if let Some(e) = &p.load.first_error {
            w!(
                s,
                "<div class=\"first-error\">first failed app transaction: {}</div>",
                esc(e)
            );
        }
        for d in &p.disagreements {
            w!(
                s,
                "<div class=\"disagreement\">the tracer disagrees: {}</div>",
                esc(d)
            );
        }
        s.push_str("</td></tr>\n");
    }
    if r.phases.is_empty() {
        w!(
            s,
            "<tr><td colspan=\"{columns}\" class=\"muted\">No phase ran.</td></tr>\n"
        );
    }
    s.push_str("</tbody>\n</table>\n</section>\n");
}

fn rollbacks(s: &mut String, r: &RehearsalReport) {
    s.push_str("<section id=\"rollbacks\">\n<h2>Rollbacks</h2>\n");
    if r.rollbacks.is_empty() {
        s.push_str("<p class=\"muted\">No down was rehearsed.</p>\n</section>\n");
        return;
    }
    s.push_str("<ul>\n");
    for rb in &r.rollbacks {
        if rb.ok {
            w!(
                s,
                "<li class=\"rollback ok\"><span class=\"badge ok\">OK</span> down of <code>{}</code>: \
                 the schema is back to what it was before its expand</li>\n",
                esc(&rb.version)
            );
        } else {
            w!(
                s,
                "<li class=\"rollback failed\"><span class=\"badge failed\">FAILED</span> down of \
                 <code>{}</code> does not restore the schema:\n<ul>\n",
                esc(&rb.version)
            );
            for p in &rb.problems {
                w!(s, "<li>{}</li>\n", esc(p));
            }
            s.push_str("</ul></li>\n");
        }
    }
    s.push_str("</ul>\n</section>\n");
}

fn extrapolated(s: &mut String, r: &RehearsalReport) {
    w!(
        s,
        "<section id=\"extrapolated\">\n<h2>At full size</h2>\n<p>The data was generated at \
         scale {}: the durations below are the measured ones extrapolated to the full size.</p>\n",
        r.scale
    );
    let rows: Vec<_> = r
        .phases
        .iter()
        .filter_map(|p| p.extrapolated.map(|d| (p, d)))
        .collect();
    if rows.is_empty() {
        s.push_str("<p class=\"muted\">No phase has an extrapolated duration.</p>\n</section>\n");
        return;
    }
    s.push_str(
        "<table>\n<thead><tr><th>phase</th><th class=\"num\">measured s</th>\
         <th class=\"num\">full size s</th></tr></thead>\n<tbody>\n",
    );
    for (p, d) in &rows {
        w!(
            s,
            "<tr><td>{}</td><td class=\"num\">{:.1}</td><td class=\"num\">{:.1}</td></tr>\n",
            esc(&p.label),
            p.duration.as_secs_f64(),
            d.as_secs_f64()
        );
    }
    let (measured, full) = rows.iter().fold((0.0, 0.0), |(m, f), (p, d)| {
        (m + p.duration.as_secs_f64(), f + d.as_secs_f64())
    });
    w!(
        s,
        "<tr><th>total</th><th class=\"num\">{measured:.1}</th><th class=\"num\">{full:.1}</th>\
         </tr>\n</tbody>\n</table>\n</section>\n"
    );
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::rehearse::report::{PhaseReport, Rollback};

    #[test]
    fn every_report_string_is_escaped() {
        assert_eq!(
            esc(r#"<a & "b" 'c'>"#),
            "&lt;a &amp; &quot;b&quot; &#39;c&#39;&gt;"
        );
        let evil = r#"<script>alert("x")</script> & 'y'"#;
        let r = RehearsalReport {
            server: evil.into(),
            dir: evil.into(),
            pending: vec![evil.into()],
            phases: vec![PhaseReport {
                label: evil.into(),
                app: evil.into(),
                error: Some(evil.into()),
                load: crate::rehearse::report::StretchStats {
                    first_error: Some(evil.into()),
                    failed: 1,
                    ..Default::default()
                },
                disagreements: vec![evil.into()],
                ..Default::default()
            }],
            rollbacks: vec![Rollback {
                version: evil.into(),
                ok: false,
                problems: vec![evil.into()],
            }],
            ..Default::default()
        };
        let page = html(&r);
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains("alert(\"x\")"));
        assert!(
            page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;")
        );
        assert!(page.contains("<div id=\"verdict\" class=\"failed\">"));
    }

    #[test]
    fn an_empty_report_renders() {
        for r in [
            RehearsalReport::default(),
            RehearsalReport {
                scale: 1.0,
                lock_timeout: Duration::from_secs(2),
                ..Default::default()
            },
        ] {
            let page = html(&r);
            assert!(page.contains("<div id=\"verdict\" class=\"passed\">"));
            assert!(page.contains("<svg id=\"timeline\""));
            assert!(page.contains("no samples"));
            assert!(!page.contains("NaN") && !page.contains("inf"), "{page}");
        }
    }

    #[test]
    fn one_sample_and_zero_durations_render() {
        let r = RehearsalReport {
            scale: 1.0,
            timeline: vec![Sample {
                t: 0.0,
                transactions: 1,
                max_ms: 3.0,
                ..Default::default()
            }],
            phases: vec![PhaseReport {
                label: "baseline".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let page = html(&r);
        assert!(!page.contains("NaN") && !page.contains("inf"), "{page}");
        assert!(page.contains("<path class=\"latency\" d=\"M"));
        assert_eq!(page.matches("class=\"boundary\"").count(), 1);
    }

    #[test]
    fn downsampling_keeps_the_spike() {
        let timeline: Vec<Sample> = (0..10_000)
            .map(|i| Sample {
                t: i as f64 * 0.1,
                transactions: 10,
                max_ms: if i == 7777 {
                    4321.0
                } else {
                    2.0 + (i % 7) as f64
                },
                lock_wait_ms: if i == 1234 { 999.0 } else { 0.0 },
                failed: u32::from(i == 5555),
            })
            .collect();
        let down = downsample(&timeline, MAX_POINTS);
        assert!(
            down.len() <= MAX_POINTS && down.len() >= MAX_POINTS / 2,
            "{}",
            down.len()
        );
        assert_eq!(down.iter().map(|s| s.max_ms).fold(0.0, f64::max), 4321.0);
        assert_eq!(
            down.iter().map(|s| s.lock_wait_ms).fold(0.0, f64::max),
            999.0
        );
        assert_eq!(down.iter().map(|s| s.failed).sum::<u32>(), 1);
        assert_eq!(down.iter().map(|s| s.transactions).sum::<u32>(), 100_000);
        assert_eq!(
            downsample(&timeline[..5], MAX_POINTS),
            timeline[..5].to_vec()
        );
        let page = html(&RehearsalReport {
            scale: 1.0,
            timeline,
            ..Default::default()
        });
        assert!(page.matches('L').count() < MAX_POINTS + 100);
    }
}
