//! How the binary is built: the settings in `.cargo/config.toml` and `build.rs`
//! that launch speed depends on hold for every build of the repository (this test
//! reads the binary `cargo test` built with them, as `cargo install` would).

/// The binary's bytes.
fn binary() -> Vec<u8> {
    std::fs::read(env!("CARGO_BIN_EXE_envgate")).unwrap()
}

/// aws-lc is built without CPU jitter entropy (about 30 ms of CPU on the first TLS
/// handshake of every launch); its randomness comes from the kernel. The jitter
/// source's functions are not compiled at all when the setting holds.
#[test]
fn the_binary_carries_no_cpu_jitter_entropy() {
    let bytes = binary();
    let found = bytes
        .windows(b"jent_entropy".len())
        .any(|window| window == b"jent_entropy");
    assert!(
        !found,
        "aws-lc was built with CPU jitter entropy: build from a clone, where \
         .cargo/config.toml sets AWS_LC_SYS_NO_JITTER_ENTROPY=1"
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
