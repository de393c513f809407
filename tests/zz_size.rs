#[test]
fn size() {
    use concertina_codegen::typegen::{self, Features, Options};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-derive/app/migrations");
    let project = concertina_codegen::Project::load(&dir).unwrap();
    let report = project.check();
    let t = typegen::generate(&report, &project.config, &Options { module: "db".into(), features: Features::ALL, versions: None }).unwrap();
    let s = t.to_string();
    eprintln!("uses {} runs_on {} bytes {} allow {} joinable {} table! {} struct {}", s.matches("pub use").count(), s.matches("RunsOn").count(), s.len(), s.matches("allow_tables_to_appear_in_same_query").count(), s.matches("joinable").count(), s.matches(":: diesel :: table !").count(), s.matches("pub struct").count());
}
