//! Build settings that must hold however envgate is built (`cargo build`,
//! `cargo install`, the static release script): see docs/DECISIONS.md, "Start-up
//! cost: how the binary is linked" and "TLS crypto and randomness".

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=AWS_LC_SYS_NO_JITTER_ENTROPY");
    link_without_pie();
    if std::env::var("AWS_LC_SYS_NO_JITTER_ENTROPY").as_deref() != Ok("1") {
        println!(
            "cargo:warning=AWS_LC_SYS_NO_JITTER_ENTROPY is not 1 (build from a clone, where \
             .cargo/config.toml sets it): every HTTPS launch will spend about 30 ms seeding \
             CPU jitter entropy"
        );
    }
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
