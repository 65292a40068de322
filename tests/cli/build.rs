//! How the binary is built: the choices that hold for every build of the
//! repository (Cargo.toml's TLS provider, an ordinary position-independent link);
//! these tests read the binary `cargo test` built, as `cargo install` would build it.

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

/// Every build is position-independent (ELF type DYN: glibc PIE, musl
/// static-pie): a supervisor that reads a program's output for days keeps ASLR.
#[test]
fn the_binary_is_position_independent() {
    let bytes = binary();
    assert_eq!(&bytes[..4], b"\x7fELF");
    let kind = u16::from_le_bytes([bytes[16], bytes[17]]);
    assert_eq!(
        kind, 3,
        "ELF type {kind}: expected 3 (DYN, position-independent); no build flag may take PIE away"
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

/// The entropy rule's exact figures: eight distinct characters carry 3 bits
/// each, 24 bits in all.
#[test]
fn the_entropy_rule_measures_exactly() {
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
