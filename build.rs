//! Build settings that must hold however envgate is built (`cargo build`,
//! `cargo install`, the static release script): see docs/DECISIONS.md, "How the
//! binary is linked".

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    link_without_pie();
}

/// A dynamically linked Linux build is linked as a position-dependent executable:
/// its code is at a fixed address, so the loader applies no relative relocations
/// (about 26,000) at every start. Static builds choose their own model.
fn link_without_pie() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    if os == "linux" && !features.split(',').any(|feature| feature == "crt-static") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
