//! Where a backfill stands, as the state table saves it: the single-connection [`Cursor`] and
//! the sliced [`Slices`] of a parallel backfill, with how a key range is split. Backend-neutral
//! data; each backend's engine reads and writes it.

use serde_json::json;

/// Where a backfill stands on one connection; saved as JSON in the state table after every
/// batch by the MySQL engine, and by PostgreSQL before [`Slices`] (still read, as one slice).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cursor {
    /// Index of the statement among the phase's steps.
    pub statement: usize,
    /// Last key done (text of each key column), `None` before the first batch.
    pub key: Option<Vec<String>>,
    /// Key ranges `(lo, hi]` where rows were skipped because they were locked.
    pub skipped: Vec<(Option<Vec<String>>, Vec<String>)>,
    /// The main pass is done; now revisiting skipped ranges.
    pub revisiting: bool,
    /// Keys the batches covered so far, so that a resumed run's progress starts there.
    pub scanned: i64,
}

impl Cursor {
    pub fn to_json(&self) -> String {
        json!({
            "statement": self.statement,
            "key": self.key,
            "skipped": self.skipped.iter().map(|(lo, hi)| json!([lo, hi])).collect::<Vec<_>>(),
            "revisiting": self.revisiting,
            "scanned": self.scanned,
        })
        .to_string()
    }

    pub fn from_json(text: &str) -> Option<Cursor> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let strings = |v: &serde_json::Value| -> Option<Vec<String>> {
            v.as_array()?
                .iter()
                .map(|s| s.as_str().map(str::to_string))
                .collect()
        };
        let skipped = v["skipped"]
            .as_array()?
            .iter()
            .map(|pair| Some((strings(&pair[0]), strings(&pair[1])?)))
            .collect::<Option<Vec<_>>>()?;
        Some(Cursor {
            statement: v["statement"].as_u64()? as usize,
            key: strings(&v["key"]),
            skipped,
            revisiting: v["revisiting"].as_bool().unwrap_or(false),
            // Absent in cursors of earlier releases.
            scanned: v["scanned"].as_i64().unwrap_or(0),
        })
    }
}

/// Null or an array of strings; `None` for anything else.
fn opt_strings(v: &serde_json::Value) -> Option<Option<Vec<String>>> {
    if v.is_null() {
        return Some(None);
    }
    v.as_array()?
        .iter()
        .map(|s| s.as_str().map(str::to_string))
        .collect::<Option<Vec<_>>>()
        .map(Some)
}

/// One contiguous key range `(lo, hi]` of a statement, worked by one connection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Slice {
    /// Exclusive lower bound; `None`: from the first row.
    pub lo: Option<Vec<String>>,
    /// Inclusive upper bound; `None`: to the last row, including rows added meanwhile.
    pub hi: Option<Vec<String>>,
    /// Last key done (starts at `lo`).
    pub key: Option<Vec<String>>,
    /// Key ranges `(lo, hi]` where rows were skipped because they were locked.
    pub skipped: Vec<(Option<Vec<String>>, Vec<String>)>,
    /// The main pass is done; now revisiting skipped ranges.
    pub revisiting: bool,
    /// Keys this slice's batches covered so far (saved with each batch), so that a resumed
    /// run's progress starts where the killed one stood.
    pub scanned: i64,
}

impl Slice {
    pub fn is_done(&self) -> bool {
        self.revisiting && self.skipped.is_empty()
    }

    pub fn to_value(&self) -> serde_json::Value {
        json!({
            "lo": self.lo,
            "hi": self.hi,
            "key": self.key,
            "skipped": self.skipped.iter().map(|(lo, hi)| json!([lo, hi])).collect::<Vec<_>>(),
            "revisiting": self.revisiting,
            "scanned": self.scanned,
        })
    }

    pub fn from_value(v: &serde_json::Value) -> Option<Slice> {
        let skipped = v["skipped"]
            .as_array()?
            .iter()
            .map(|pair| Some((opt_strings(&pair[0])?, opt_strings(&pair[1])??)))
            .collect::<Option<Vec<_>>>()?;
        Some(Slice {
            lo: opt_strings(&v["lo"])?,
            hi: opt_strings(&v["hi"])?,
            key: opt_strings(&v["key"])?,
            skipped,
            revisiting: v["revisiting"].as_bool()?,
            // Absent in cursors of earlier releases.
            scanned: v["scanned"].as_i64().unwrap_or(0),
        })
    }
}

/// Where one statement's backfill stands, saved as JSON in the state table:
/// `{"statement": 0, "slices": [{"lo", "hi", "key", "skipped", "revisiting"}, …]}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Slices {
    /// Index of the statement among the phase's steps.
    pub statement: usize,
    /// Empty before the statement starts: the engine splits the key range then.
    pub slices: Vec<Slice>,
}

impl Slices {
    pub fn to_json(&self) -> String {
        json!({
            "statement": self.statement,
            "slices": self.slices.iter().map(Slice::to_value).collect::<Vec<_>>(),
        })
        .to_string()
    }

    /// Reads this shape, or the single cursor of earlier releases as one slice over the whole
    /// range, so that a backfill they interrupted resumes. `None` when it is neither.
    pub fn from_json(text: &str) -> Option<Slices> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let statement = usize::try_from(v["statement"].as_u64()?).ok()?;
        match v.get("slices") {
            Some(list) => Some(Slices {
                statement,
                slices: list
                    .as_array()?
                    .iter()
                    .map(Slice::from_value)
                    .collect::<Option<Vec<_>>>()?,
            }),
            None => {
                let old = Cursor::from_json(text)?;
                // Cursor::from_json reads a malformed key as None; refuse it instead of
                // restarting the statement from its first row.
                opt_strings(&v["key"])?;
                Some(Slices {
                    statement,
                    slices: vec![Slice {
                        lo: None,
                        hi: None,
                        key: old.key,
                        skipped: old.skipped,
                        revisiting: old.revisiting,
                        scanned: old.scanned,
                    }],
                })
            }
        }
    }
}

/// The inner bounds that split `[min, max]` into `n` slices of (nearly) equal key span.
pub fn integer_bounds(min: i128, max: i128, n: usize) -> Vec<i128> {
    let span = max - min + 1;
    let mut out: Vec<i128> = Vec::new();
    for i in 1..n {
        let b = min - 1 + span * i as i128 / n as i128;
        if b >= min && b < max && out.last() != Some(&b) {
            out.push(b);
        }
    }
    out
}

/// Slices between sorted inner bounds: `(None, b1], (b1, b2], …, (bn, None)`.
pub fn slices_between(bounds: Vec<Vec<String>>) -> Vec<Slice> {
    let mut edges: Vec<Option<Vec<String>>> = vec![None];
    edges.extend(bounds.into_iter().map(Some));
    edges.push(None);
    edges
        .windows(2)
        .map(|w| Slice {
            lo: w[0].clone(),
            hi: w[1].clone(),
            key: w[0].clone(),
            ..Slice::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_through_json() {
        let c = Cursor {
            statement: 2,
            key: Some(vec!["41".into()]),
            skipped: vec![
                (None, vec!["10".into()]),
                (Some(vec!["20".into()]), vec!["30".into()]),
            ],
            revisiting: false,
            scanned: 4100,
        };
        assert_eq!(Cursor::from_json(&c.to_json()), Some(c));
        assert_eq!(Cursor::from_json("not json"), None);
    }

    #[test]
    fn slices_round_trip_through_json() {
        let c = Slices {
            statement: 1,
            slices: vec![
                Slice {
                    lo: None,
                    hi: Some(vec!["100".into()]),
                    key: Some(vec!["41".into()]),
                    skipped: vec![(None, vec!["10".into()])],
                    revisiting: false,
                    scanned: 41,
                },
                Slice {
                    lo: Some(vec!["100".into()]),
                    hi: None,
                    key: Some(vec!["100".into()]),
                    skipped: vec![],
                    revisiting: true,
                    scanned: 0,
                },
            ],
        };
        assert_eq!(Slices::from_json(&c.to_json()), Some(c));
        assert_eq!(Slices::from_json("not json"), None);
        assert_eq!(
            Slices::from_json(r#"{"statement": 0, "slices": [{"lo": 3}]}"#),
            None
        );
        assert_eq!(
            Slices::from_json(r#"{"statement": -1, "slices": []}"#),
            None
        );
    }

    #[test]
    fn an_old_single_cursor_reads_as_one_slice() {
        let old = Cursor {
            statement: 2,
            key: Some(vec!["41".into()]),
            skipped: vec![(Some(vec!["20".into()]), vec!["30".into()])],
            revisiting: false,
            scanned: 12,
        };
        let read = Slices::from_json(&old.to_json()).expect("old shape");
        assert_eq!(read.statement, 2);
        assert_eq!(
            read.slices,
            vec![Slice {
                lo: None,
                hi: None,
                key: old.key.clone(),
                skipped: old.skipped.clone(),
                revisiting: false,
                scanned: 12,
            }]
        );
        // A cursor of an earlier release has no counts: progress starts at zero.
        let v1 = r#"{"statement": 0, "slices": [{"lo": null, "hi": null, "key": ["5"], "skipped": [], "revisiting": false}]}"#;
        assert_eq!(
            Slices::from_json(v1).expect("v1 slices").slices[0].scanned,
            0
        );
        // A malformed key is refused, not read as "start from the first row".
        assert_eq!(
            Slices::from_json(r#"{"statement": 0, "key": 7, "skipped": []}"#),
            None
        );
    }

    #[test]
    fn integer_ranges_split_evenly_and_cover_everything() {
        assert_eq!(integer_bounds(1, 100, 4), vec![25, 50, 75]);
        assert_eq!(integer_bounds(1, 5_000_000, 2), vec![2_500_000]);
        assert_eq!(integer_bounds(-10, 9, 2), vec![-1]);
        // Fewer keys than workers: fewer slices, never an empty bound list out of order.
        assert_eq!(integer_bounds(7, 7, 4), Vec::<i128>::new());
        assert_eq!(integer_bounds(1, 2, 4), vec![1]);
        let extreme = integer_bounds(i64::MIN as i128, i64::MAX as i128, 3);
        assert_eq!(extreme.len(), 2);
        let slices = slices_between(vec![vec!["25".into()], vec!["50".into()]]);
        assert_eq!(slices.len(), 3);
        assert_eq!(slices[0].lo, None);
        assert_eq!(slices[0].hi, Some(vec!["25".to_string()]));
        assert_eq!(slices[1].lo, slices[0].hi);
        assert_eq!(slices[1].key, slices[1].lo);
        assert_eq!(slices[2].hi, None);
    }
}
