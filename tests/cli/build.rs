//! How the binary is built: the choices launch speed depends on (Cargo.toml's TLS
//! provider, `build.rs`'s link mode) hold for every build of the repository (this
//! test reads the binary `cargo test` built, as `cargo install` would build it).

/// The binary's bytes.
fn binary() -> Vec<u8> {
    std::fs::read(env!("CARGO_BIN_EXE_envgate")).unwrap()
}

/// Whether the binary's bytes contain `needle`.
fn carries(needle: &[u8]) -> bool {
    binary()
        .windows(needle.len())
        .any(|window| window == needle)
}

/// No CPU jitter entropy source is linked in: aws-lc's (the AWS SDK's default TLS
/// crypto) cost about 30 ms of CPU on the first TLS handshake of every launch.
/// envgate's TLS runs on ring, whose randomness comes from the kernel (getrandom).
#[test]
fn the_binary_carries_no_cpu_jitter_entropy() {
    assert!(
        !carries(b"jent_entropy"),
        "the binary carries CPU jitter entropy (aws-lc?): TLS must use rustls with \
         ring, without the SDK's default HTTPS client (Cargo.toml)"
    );
}

/// A dynamically linked Linux build is a position-dependent executable (ELF type
/// EXEC, not DYN): the loader has no relative relocations to apply at start.
#[test]
fn the_dynamic_binary_is_linked_without_pie() {
    let bytes = binary();
    assert_eq!(&bytes[..4], b"\x7fELF");
    let kind = u16::from_le_bytes([bytes[16], bytes[17]]);
    assert_eq!(
        kind, 2,
        "ELF type {kind}: expected 2 (EXEC); build.rs links with -no-pie"
    );
}

/// A musl build (the one the README installs) is static: no program interpreter
/// (dynamic loader) is named, so nothing is loaded or relocated at start. With
/// `-no-pie` beside rustc's `-static-pie`, such a build once crashed at start.
#[cfg(target_env = "musl")]
#[test]
fn the_musl_binary_is_static() {
    let bytes = binary();
    let word = |at: usize, width: usize| {
        bytes[at..at + width]
            .iter()
            .rev()
            .fold(0usize, |value, &byte| value << 8 | usize::from(byte))
    };
    let (table, entry_size, entries) = (word(0x20, 8), word(0x36, 2), word(0x38, 2));
    let interpreters = (0..entries)
        .filter(|index| word(table + index * entry_size, 4) == 3) // PT_INTERP
        .count();
    assert_eq!(
        interpreters, 0,
        "the musl build names a dynamic loader (PT_INTERP): it must link statically"
    );
    let run = crate::harness::Envgate::with_schema("[vars.PORT]\ntype = \"port\"\n")
        .env("PORT", "8000")
        .args(["--check"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
}

/// The dynamic binary loads no libm.so: its two C math functions (`log2`, `pow`)
/// are defined in the binary (src/main.rs), one shared library fewer to map and
/// relocate at start and about 300 KB less resident memory.
#[test]
fn the_binary_needs_no_libm() {
    assert!(
        !carries(b"libm.so"),
        "the binary links libm.so: a new C math function is called; define it in src/main.rs"
    );
}

/// The dynamic binary loads no libgcc_s.so: the unwinder std links against is
/// built in (libgcc_eh, `build.rs`), one shared library fewer to find, map and
/// relocate at every start (about 0.1 ms of CPU).
#[test]
fn the_binary_needs_no_libgcc_s() {
    assert!(
        !carries(b"libgcc_s.so"),
        "the binary links libgcc_s.so: build.rs links the unwinder (libgcc_eh.a) into dynamic builds"
    );
}

/// The binary's own `log2` gives the entropy rule its exact figures: eight distinct
/// characters carry 3 bits each, 24 bits in all.
#[test]
fn the_entropy_rule_measures_with_the_binarys_own_log2() {
    for (minimum, code) in [("24.0", 0), ("24.001", 78)] {
        let run = crate::harness::Envgate::with_schema(&format!(
            "[vars.K]\nmin_entropy_bits = {minimum}\n"
        ))
        .env("K", "abcdefgh")
        .args(["--check"])
        .run();
        assert_eq!(run.code, code, "min {minimum}: {}", run.transcript());
    }
}

/// The functions a launch runs are laid out first in the binary's code, in the
/// order of link/launch-order.txt (build.rs passes it to LLD): a launch then
/// faults in fewer pages of code. Checked on this build: the first function of
/// the list that it defines (envgate's own names carry hashes of the release
/// profile; the standard library's do not) is the first function of its code.
/// glibc builds only: rustc links musl builds with the C compiler's own linker,
/// and the list's names are those of the glibc build (docs/DECISIONS.md).
#[cfg(target_env = "gnu")]
#[test]
fn the_launch_order_file_lays_out_the_code() {
    assert!(
        carries(b"Linker: LLD"),
        "the binary was not linked by LLD: build.rs's launch order applies to LLD links only"
    );
    let order = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/link/launch-order.txt"
    ))
    .unwrap();
    let output = std::process::Command::new("nm")
        .args(["--defined-only", "-n", env!("CARGO_BIN_EXE_envgate")])
        .output()
        .expect("nm (binutils) lists the binary's symbols: apt-get install binutils");
    let listing = String::from_utf8_lossy(&output.stdout);
    let functions: Vec<&str> = listing
        .lines()
        .filter_map(
            |line| match line.split_whitespace().collect::<Vec<_>>()[..] {
                [_, "t" | "T" | "W", name] => Some(name),
                _ => None,
            },
        )
        .collect();
    let defined: std::collections::HashSet<&str> = functions.iter().copied().collect();
    let listed: Vec<&str> = order
        .lines()
        .filter(|line| !line.starts_with('#') && defined.contains(line))
        .collect();
    assert!(
        listed.len() >= 10,
        "only {} functions of link/launch-order.txt are in this build",
        listed.len()
    );
    assert_eq!(
        functions[0], listed[0],
        "the code does not start with the launch's functions: build.rs no longer \
         passes link/launch-order.txt to the linker"
    );
}
