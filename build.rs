//! Build settings that must hold however envgate is built (`cargo build`,
//! `cargo install`, the static release script): see docs/DECISIONS.md, "How the
//! binary is linked".

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    link_without_pie();
    link_unwinder_statically();
    link_in_launch_order();
    wrap_thread_creation();
    wrap_memcpy();
}

/// A musl build's allocator (src/heap/allocator.rs) takes no lock until the
/// process starts a second thread: every `pthread_create` goes through
/// `__wrap_pthread_create` (src/main.rs), which tells it first.
fn wrap_thread_creation() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "musl" {
        println!("cargo:rustc-link-arg-bins=-Wl,--wrap=pthread_create");
    }
}

/// A musl build on x86-64 copies memory with `__wrap_memcpy`
/// (src/heap/memcpy.rs) instead of musl's `memcpy`, whose single-byte
/// `movsb` and `rep movsq` start slowly on the short copies envgate makes.
fn wrap_memcpy() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if os == "linux" && env == "musl" && arch == "x86_64" {
        println!("cargo:rustc-link-arg-bins=-Wl,--wrap=memcpy");
    }
}

/// The functions a launch runs (link/launch-order.txt, written by
/// scripts/launch-order.sh) are laid out next to each other, so a launch faults
/// in fewer pages of code: LLD's `--symbol-ordering-file`. Only where LLD links
/// (rustc's default on x86_64 Linux since 1.90, unless the flags choose another
/// linker); `ENVGATE_LINK_ORDER=off` leaves it out. Names the build no longer
/// has are skipped without a warning: a stale list costs speed, never the build.
fn link_in_launch_order() {
    println!("cargo:rerun-if-changed=link/launch-order.txt");
    println!("cargo:rerun-if-env-changed=ENVGATE_LINK_ORDER");
    println!("cargo:rerun-if-env-changed=ENVGATE_LINK_MAP");
    // scripts/launch-order.sh reads the names of a stripped build (the one
    // `cargo install` makes: stripping is part of what names are derived from)
    // from the linker's map.
    if !links_with_lld() {
        return;
    }
    if let Ok(map) = std::env::var("ENVGATE_LINK_MAP") {
        println!("cargo:rustc-link-arg-bins=-Wl,-Map={map}");
    }
    if std::env::var("ENVGATE_LINK_ORDER").is_ok_and(|value| value == "off") {
        return;
    }
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let order = std::path::Path::new(&manifest).join("link/launch-order.txt");
    if order.is_file() {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={},--no-warn-symbol-ordering",
            order.display()
        );
    }
}

/// Whether rustc links this build with LLD: its default for
/// x86_64-unknown-linux-gnu from 1.90 on, when neither the flags nor the
/// environment name another linker.
fn links_with_lld() -> bool {
    if std::env::var("TARGET").unwrap_or_default() != "x86_64-unknown-linux-gnu"
        || std::env::var_os("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_some()
    {
        return false;
    }
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if flags.split('\x1f').any(|flag| {
        flag.contains("linker") || flag.contains("link-self-contained") || flag.contains("fuse-ld")
    }) {
        return false;
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let Ok(output) = std::process::Command::new(rustc).arg("-vV").output() else {
        return false;
    };
    let version = String::from_utf8_lossy(&output.stdout);
    let minor = version
        .lines()
        .find_map(|line| line.strip_prefix("release: 1."))
        .and_then(|rest| rest.split('.').next())
        .and_then(|minor| minor.parse::<u32>().ok());
    minor.is_some_and(|minor| minor >= 90)
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

/// Whether the C runtime is linked statically: `+crt-static` in the flags (the
/// release script), or a musl target, which links statically unless the flags
/// say `-crt-static`. Cargo leaves musl's default `crt-static` out of
/// `CARGO_CFG_TARGET_FEATURE`, so the target is asked too: a musl build that got
/// `-no-pie` beside rustc's `-static-pie` crashed at its first instruction of
/// start-up.
fn is_static_build() -> bool {
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let musl = std::env::var("CARGO_CFG_TARGET_ENV").is_ok_and(|env| env == "musl");
    features.split(',').any(|feature| feature == "crt-static")
        || (musl && !flags.contains("-crt-static"))
}
