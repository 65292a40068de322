//! Build settings that must hold however envgate is built (`cargo build`,
//! `cargo install`, the static release script): see docs/DECISIONS.md, "How the
//! binary is linked".

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    link_without_pie();
    link_unwinder_statically();
}

/// A dynamically linked Linux build is linked as a position-dependent executable:
/// its code is at a fixed address, so the loader applies no relative relocations
/// (about 26,000) at every start. Static builds choose their own model.
fn link_without_pie() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" && !is_static_build() {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}

/// A dynamically linked Linux build carries the unwinder std calls (for
/// backtraces; envgate aborts on panic, nothing unwinds) from libgcc_eh.a instead
/// of loading libgcc_s.so: a shared library fewer to find, map and relocate at
/// every start (about 0.1 ms of CPU). The archive's objects are regular
/// definitions, so they take precedence over libgcc_s.so's and `--as-needed`
/// drops it. Native builds only (the host's C compiler says where the archive
/// is); any other build links as before.
fn link_unwinder_statically() {
    let target = std::env::var("TARGET").unwrap_or_default();
    let host = std::env::var("HOST").unwrap_or_default();
    if target != host || !target.ends_with("-linux-gnu") || is_static_build() {
        return;
    }
    let Ok(output) = std::process::Command::new("cc")
        .arg("-print-file-name=libgcc_eh.a")
        .output()
    else {
        return;
    };
    let path = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if output.status.success() && std::path::Path::new(&path).is_absolute() {
        println!("cargo:rustc-link-arg-bins=-Wl,--whole-archive,{path},--no-whole-archive");
    }
}

/// Whether the C runtime is linked statically (`+crt-static`, the release script).
fn is_static_build() -> bool {
    std::env::var("CARGO_CFG_TARGET_FEATURE")
        .unwrap_or_default()
        .split(',')
        .any(|feature| feature == "crt-static")
}
