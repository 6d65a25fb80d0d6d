// sqlx::migrate! embeds the migrations at compile time; without this, adding a migration
// file leaves an incremental build with the old set (Cargo does not watch that directory).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
