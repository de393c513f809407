//! What differs between servers, each behind the cargo feature of its name: a PostgreSQL-only
//! build links no MySQL client library, and the reverse.

#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "postgres")]
pub mod postgres;

mod state_sql;

/// A test database's name: `<prefix>_<pid>_<nanos>` in at most `max` bytes, the prefix cut
/// rather than the unique part (a long test name once lost its suffix to the server's limit,
/// and a run killed before its drop then made the next run's name collide).
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn unique_test_name(prefix: &str, nanos: u128, max: usize) -> String {
    let suffix = format!("_{}_{nanos}", std::process::id());
    let mut keep = max.saturating_sub(suffix.len()).min(prefix.len());
    while !prefix.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}{suffix}", &prefix[..keep])
}

#[cfg(all(test, any(feature = "postgres", feature = "mysql")))]
mod tests {
    #[test]
    fn a_long_prefix_is_cut_and_the_unique_part_kept() {
        let long = "concertina_test_the_budget_slows_down_under_a_load_and_speeds_up_when_it_ends";
        let name = super::unique_test_name(long, 1_796_671_131_068_495_343, 63);
        assert_eq!(name.len(), 63);
        assert!(name.ends_with(&format!("_{}_1796671131068495343", std::process::id())));
        assert!(name.starts_with("concertina_test_the_budget"));
        assert_eq!(
            super::unique_test_name("ct_x", 7, 64),
            format!("ct_x_{}_7", std::process::id())
        );
    }
}
