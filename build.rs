// `sqlx::migrate!` embeds the migration folders when the crate compiles;
// this makes a new or changed migration file recompile it (sqlx's advice).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
