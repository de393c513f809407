// Types generated for tests/fixtures/typegen compile and are usable: enums with their labels,
// arrays, a `[types]` override, a rename's transition types, a table without a key skipped.
#[derive(concertina::Migration)]
#[migration(dir = "tests/fixtures/typegen", module = "schema")]
pub struct Fixture;

use schema::v0003_status_enum::enums::OrderStatus;

fn main() {
    assert_eq!(OrderStatus::InTransit.label(), "in transit");
    let new_user = schema::v0002_rename_name::window::NewUsers {
        id: None,
        email: "a@example.com".into(),
        type_: None,
        last_ip: Some("10.0.0.1".into()),
        tags: None,
        created_at: None,
        full_name: "A".into(),
    };
    let _ = diesel::insert_into(schema::latest::users::table).values(&schema::latest::NewUsers {
        id: None,
        email: new_user.email.clone(),
        type_: None,
        last_ip: None,
        tags: Some(vec![Some("x".into())]),
        created_at: None,
        full_name: new_user.full_name.clone(),
    });
}
