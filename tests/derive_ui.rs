//! Compile-fail and compile-pass behaviour of `#[derive(Migration)]` (trybuild, reviewed
//! `.stderr` files in tests/ui/).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass_*.rs");
    t.compile_fail("tests/ui/fail_*.rs");
}
