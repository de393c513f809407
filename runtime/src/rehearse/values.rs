//! Generated values: each a pure function of (table, column, row number) through a stateless
//! hash, in the server's text input form (the same for `COPY` and for SQL literals), so a
//! rehearsal is reproducible and distinct rows get distinct keys.

use std::collections::BTreeMap;

use concertina_codegen::change::QualName;

/// How a column's values can be made between two histogram bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// Any number between the bounds.
    Number,
    /// The lower bound with a suffix: sorts between the bounds, distinct from both.
    Text,
    /// Only the bounds themselves (dates, UUIDs, …).
    Other,
}

/// A stateless hash of (salt, i): the same value for the same row on every run.
pub fn mix(salt: u64, i: u64) -> u64 {
    let mut z = salt ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A salt from a name.
pub fn salt(text: &str) -> u64 {
    text.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// A fraction in [0, 1) from a hash.
pub fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// How one column's values are made.
#[derive(Debug, Clone, PartialEq)]
pub enum Gen {
    /// Distinct per row: integers `offset + i + 1`.
    UniqueInt {
        offset: i64,
    },
    /// Distinct per row: text (an email where the column's name says so), at most `max_len`.
    UniqueText {
        max_len: Option<usize>,
        email: bool,
    },
    UniqueUuid,
    Int {
        lo: i64,
        hi: i64,
    },
    Decimal {
        lo: f64,
        hi: f64,
        scale: u32,
    },
    Float {
        lo: f64,
        hi: f64,
    },
    Text {
        max_len: Option<usize>,
        distinct: u64,
    },
    Bool,
    Date,
    Timestamp,
    Time,
    Interval,
    Uuid,
    Json,
    Bytes,
    Inet,
    /// One of these, by cumulative weight (the last weight is 1.0).
    Choice {
        values: Vec<String>,
        cumulative: Vec<f64>,
    },
    /// A key of the parent table, as loaded.
    Ref {
        parent: QualName,
        column: String,
    },
    /// The same text every row (an empty array, say).
    Fixed(String),
    /// From a histogram of equal-frequency buckets: a bucket chosen by the row's hash (or, for
    /// a column correlated with the rows' order, by the row number out of `rows`), then a
    /// value in it as `kind` allows.
    Histogram {
        bounds: Vec<String>,
        kind: ValueKind,
        /// Non-zero: the table's rows, for a correlated column.
        rows: u64,
        /// Distinct values per bucket, from the statistics' distinct count (0: as many as
        /// the rows make).
        per_bucket: u64,
    },
    /// `first` for a `share` of the rows, `rest` for the others (most common values, then
    /// the histogram of the rest).
    Mix {
        first: Box<Gen>,
        share: f64,
        rest: Box<Gen>,
    },
}

/// The keys of loaded tables, per (table, column), for foreign keys and for the app's reads.
pub type Keys = BTreeMap<(QualName, String), Vec<String>>;

fn fit(text: String, max_len: Option<usize>) -> String {
    match max_len {
        Some(n) if text.chars().count() > n => text.chars().take(n).collect(),
        _ => text,
    }
}

/// A value of `gen` for row `i` (`salt` is the table's and column's). Also makes the app's
/// values: the workload passes row numbers past the loaded ones.
pub fn value(gen: &Gen, column: &str, salt: u64, i: u64, keys: &Keys) -> Option<String> {
    let h = mix(salt, i);
    let f = unit(h);
    Some(match gen {
        Gen::UniqueInt { offset } => (offset + i as i64 + 1).to_string(),
        Gen::UniqueText { max_len, email } => {
            let t = if *email {
                format!("user{i}@example.com")
            } else {
                format!("{column}-{i}")
            };
            match max_len {
                // Too long for the column: the row number alone, in base 36, stays distinct.
                Some(n) if t.chars().count() > *n => fit(base36(i), Some(*n)),
                _ => t,
            }
        }
        Gen::UniqueUuid => uuid(mix(salt, i), i),
        Gen::Int { lo, hi } => {
            let span = (*hi as i128 - *lo as i128 + 1).max(1) as u128;
            (*lo as i128 + (h as u128 % span) as i128).to_string()
        }
        Gen::Decimal { lo, hi, scale } => {
            format!("{:.*}", *scale as usize, lo + (hi - lo) * f)
        }
        Gen::Float { lo, hi } => format!("{}", lo + (hi - lo) * f),
        Gen::Text { max_len, distinct } => {
            let n = h % (*distinct).max(1);
            fit(format!("{column} {n}"), *max_len)
        }
        Gen::Bool => if h & 1 == 0 { "true" } else { "false" }.to_string(),
        Gen::Date => {
            let (y, m, d) = civil(h % 3650);
            format!("{y:04}-{m:02}-{d:02}")
        }
        Gen::Timestamp => {
            let (y, m, d) = civil(h % 3650);
            let s = (h >> 20) % 86_400;
            format!(
                "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
                s / 3600,
                s / 60 % 60,
                s % 60
            )
        }
        Gen::Time => {
            let s = h % 86_400;
            format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
        }
        Gen::Interval => format!("{} minutes", h % 10_000),
        Gen::Uuid => uuid(h, h >> 7),
        Gen::Json => format!("{{\"n\": {}}}", h % 1000),
        Gen::Bytes => format!("{:016x}", h),
        Gen::Inet => format!("10.{}.{}.{}", h % 256, (h >> 8) % 256, (h >> 16) % 254 + 1),
        Gen::Choice { values, cumulative } => {
            let at = cumulative
                .partition_point(|c| *c <= f)
                .min(values.len() - 1);
            values[at].clone()
        }
        Gen::Ref { parent, column } => {
            let parents = keys.get(&(parent.clone(), column.clone()))?;
            if parents.is_empty() {
                return None;
            }
            parents[(h % parents.len() as u64) as usize].clone()
        }
        Gen::Fixed(text) => text.clone(),
        Gen::Histogram {
            bounds,
            kind,
            rows,
            per_bucket,
        } => {
            let buckets = bounds.len().checked_sub(1)?;
            if buckets == 0 {
                return bounds.first().cloned();
            }
            let b = if *rows > 0 {
                ((i.min(*rows - 1) as u128 * buckets as u128) / *rows as u128) as usize
            } else {
                (h % buckets as u64) as usize
            };
            let (lo, hi) = (&bounds[b], &bounds[b + 1]);
            let mut within = unit(mix(salt ^ 0xB0C4, i));
            if *per_bucket > 0 {
                within = (mix(salt ^ 0xB0C5, i) % per_bucket) as f64 / *per_bucket as f64;
            }
            match kind {
                ValueKind::Number => match (lo.parse::<f64>(), hi.parse::<f64>()) {
                    (Ok(a), Ok(z)) => {
                        let v = a + (z - a) * within;
                        let decimals = lo.split_once('.').map_or(0, |(_, d)| d.len());
                        format!("{v:.decimals$}")
                    }
                    _ => lo.clone(),
                },
                ValueKind::Text if *per_bucket > 0 && within > 0.0 => {
                    format!("{lo} {}", (within * *per_bucket as f64).round() as u64)
                }
                ValueKind::Text if *per_bucket == 0 && within >= 0.5 => {
                    format!("{lo} {}", h % 1000)
                }
                _ if within >= 0.5 => hi.clone(),
                _ => lo.clone(),
            }
        }
        Gen::Mix { first, share, rest } => {
            if unit(mix(salt ^ 0x0417, i)) < *share {
                return value(first, column, salt, i, keys);
            }
            return value(rest, column, salt, i, keys);
        }
    })
}

fn base36(mut n: u64) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(digits[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// A version-4-shaped UUID whose low bits are `i`, so distinct rows get distinct UUIDs.
fn uuid(h: u64, i: u64) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        (h >> 32) as u32,
        (h >> 16) as u16,
        h as u16 & 0xfff,
        (i >> 48) as u16 & 0xfff,
        i & 0xffff_ffff_ffff
    )
}

/// Day `n` after 2015-01-01 as (year, month, day).
fn civil(n: u64) -> (u64, u64, u64) {
    let mut y = 2015;
    let mut d = n;
    loop {
        let len = if y % 4 == 0 { 366 } else { 365 };
        if d < len {
            break;
        }
        d -= len;
        y += 1;
    }
    let months = [
        31,
        if y % 4 == 0 { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let mut m = 0;
    while d >= months[m] {
        d -= months[m];
        m += 1;
    }
    (y, m as u64 + 1, d + 1)
}

/// One of `values`, each as likely.
pub fn choice(values: Vec<String>) -> Gen {
    let n = values.len().max(1) as f64;
    let cumulative = (1..=values.len()).map(|i| i as f64 / n).collect();
    Gen::Choice { values, cumulative }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn values_are_reproducible_and_unique_where_asked() {
        let keys = Keys::new();
        let g = Gen::UniqueText {
            max_len: Some(6),
            email: false,
        };
        let a: BTreeSet<_> = (0..5000).map(|i| value(&g, "code", 7, i, &keys)).collect();
        assert_eq!(a.len(), 5000);
        assert!(a.iter().all(|v| v.as_ref().unwrap().len() <= 6));
        let e = Gen::UniqueText {
            max_len: None,
            email: true,
        };
        assert_eq!(
            value(&e, "email", 1, 3, &keys).unwrap(),
            "user3@example.com"
        );
        let u: BTreeSet<_> = (0..5000)
            .map(|i| value(&Gen::UniqueUuid, "id", 9, i, &keys))
            .collect();
        assert_eq!(u.len(), 5000);
        assert_eq!(
            value(&Gen::Date, "d", 3, 11, &keys),
            value(&Gen::Date, "d", 3, 11, &keys)
        );
    }

    #[test]
    fn dates_are_real_dates() {
        for n in 0..3650 {
            let (y, m, d) = civil(n);
            assert!((2015..2026).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&d));
        }
        assert_eq!(civil(0), (2015, 1, 1));
        assert_eq!(civil(365 + 59), (2016, 2, 29));
    }

    #[test]
    fn choices_follow_their_weights() {
        let g = Gen::Choice {
            values: vec!["a".into(), "b".into()],
            cumulative: vec![0.9, 1.0],
        };
        let keys = Keys::new();
        let a = (0..10_000)
            .filter(|i| value(&g, "c", 5, *i, &keys).as_deref() == Some("a"))
            .count();
        assert!((8_700..9_300).contains(&a), "{a}");
    }
}
