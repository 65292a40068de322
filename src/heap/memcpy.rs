//! The musl build's `memcpy`: the linker sends every call to
//! `__wrap_memcpy` (`-Wl,--wrap=memcpy`, build.rs), defined here.
//!
//! musl's x86-64 `memcpy` aligns and finishes with single `movsb` instructions
//! and copies the rest with `rep movsq`; each of those starts slowly, and most of
//! envgate's copies are a few dozen to a few hundred bytes (a value, a schema
//! entry, a variable's specification moved into its vector). perf put 12 % of a
//! 10,000-variable check's time in it. This one copies up to 64 bytes with
//! overlapping 1-, 2-, 4-, 8- and 16-byte loads and stores (no loop, no branch
//! per byte), up to 512 bytes 32 at a time, and longer blocks with `rep movsb`,
//! which processors with ERMS (Intel since 2012, AMD since Zen 3) run at full
//! speed. It is written in
//! assembly so that no compiler can turn its own copies back into a call to
//! `memcpy`. A unit test compares it with `copy_nonoverlapping` for every length
//! up to 600 bytes at every alignment, and longer ones; the whole test suite runs
//! on the musl build.

core::arch::global_asm!(
    ".globl __wrap_memcpy",
    ".type __wrap_memcpy,@function",
    ".p2align 4",
    "__wrap_memcpy:",
    "    mov rax, rdi",
    "    cmp rdx, 16",
    "    jbe 2f",
    "    cmp rdx, 32",
    "    ja 3f",
    // 17 to 32 bytes: the first 16 and the last 16.
    "    movups xmm0, xmmword ptr [rsi]",
    "    movups xmm1, xmmword ptr [rsi + rdx - 16]",
    "    movups xmmword ptr [rdi], xmm0",
    "    movups xmmword ptr [rdi + rdx - 16], xmm1",
    "    ret",
    "3:",
    "    cmp rdx, 64",
    "    ja 4f",
    // 33 to 64 bytes: the first 32 and the last 32.
    "    movups xmm0, xmmword ptr [rsi]",
    "    movups xmm1, xmmword ptr [rsi + 16]",
    "    movups xmm2, xmmword ptr [rsi + rdx - 32]",
    "    movups xmm3, xmmword ptr [rsi + rdx - 16]",
    "    movups xmmword ptr [rdi], xmm0",
    "    movups xmmword ptr [rdi + 16], xmm1",
    "    movups xmmword ptr [rdi + rdx - 32], xmm2",
    "    movups xmmword ptr [rdi + rdx - 16], xmm3",
    "    ret",
    // 65 to 512 bytes: 32 at a time, then the last 32 (loaded first).
    "4:",
    "    cmp rdx, 512",
    "    ja 8f",
    "    movups xmm2, xmmword ptr [rsi + rdx - 32]",
    "    movups xmm3, xmmword ptr [rsi + rdx - 16]",
    "    lea r8, [rdi + rdx - 32]",
    "9:",
    "    movups xmm0, xmmword ptr [rsi]",
    "    movups xmm1, xmmword ptr [rsi + 16]",
    "    movups xmmword ptr [rdi], xmm0",
    "    movups xmmword ptr [rdi + 16], xmm1",
    "    add rsi, 32",
    "    add rdi, 32",
    "    sub rdx, 32",
    "    cmp rdx, 32",
    "    ja 9b",
    "    movups xmmword ptr [r8], xmm2",
    "    movups xmmword ptr [r8 + 16], xmm3",
    "    ret",
    // More than 512 bytes.
    "8:",
    "    mov rcx, rdx",
    "    rep movsb",
    "    ret",
    // Up to 16 bytes.
    "2:",
    "    cmp rdx, 8",
    "    jb 5f",
    "    mov rcx, qword ptr [rsi]",
    "    mov r8, qword ptr [rsi + rdx - 8]",
    "    mov qword ptr [rdi], rcx",
    "    mov qword ptr [rdi + rdx - 8], r8",
    "    ret",
    "5:",
    "    cmp rdx, 4",
    "    jb 6f",
    "    mov ecx, dword ptr [rsi]",
    "    mov r8d, dword ptr [rsi + rdx - 4]",
    "    mov dword ptr [rdi], ecx",
    "    mov dword ptr [rdi + rdx - 4], r8d",
    "    ret",
    // 0 to 3 bytes: the first byte, then the last two.
    "6:",
    "    test rdx, rdx",
    "    jz 7f",
    "    movzx ecx, byte ptr [rsi]",
    "    mov byte ptr [rdi], cl",
    "    cmp rdx, 2",
    "    jb 7f",
    "    movzx ecx, word ptr [rsi + rdx - 2]",
    "    mov word ptr [rdi + rdx - 2], cx",
    "7:",
    "    ret",
    ".size __wrap_memcpy, . - __wrap_memcpy",
);

#[cfg(test)]
mod tests {
    unsafe extern "C" {
        fn __wrap_memcpy(dst: *mut u8, src: *const u8, len: usize) -> *mut u8;
    }

    /// Copies `len` bytes between buffers offset by `from` and `to`, and checks
    /// the copy, the bytes around it and the returned pointer.
    fn copies(len: usize, from: usize, to: usize) {
        let source: Vec<u8> = (0..len + 64)
            .map(|i| u8::try_from((i * 7 + 3) % 251).unwrap())
            .collect();
        let mut target = vec![0xEE_u8; len + 64];
        // SAFETY: both buffers hold `len` bytes past their offsets (< 32), and
        // are distinct.
        let returned =
            unsafe { __wrap_memcpy(target.as_mut_ptr().add(to), source.as_ptr().add(from), len) };
        assert_eq!(
            returned,
            target.as_mut_ptr().wrapping_add(to),
            "returns its target"
        );
        assert_eq!(
            &target[to..to + len],
            &source[from..from + len],
            "{len} bytes"
        );
        assert!(
            target[..to].iter().all(|&b| b == 0xEE),
            "before, {len} bytes"
        );
        assert!(
            target[to + len..].iter().all(|&b| b == 0xEE),
            "after, {len} bytes"
        );
    }

    #[test]
    fn every_length_and_alignment_is_copied_exactly() {
        for len in 0..=600 {
            for from in 0..17 {
                for to in [0, 1, 3, 8, 15, 16, 31] {
                    copies(len, from, to);
                }
            }
        }
        for len in [511, 4096, 4099, 65_536 + 13, 1 << 20] {
            copies(len, 5, 3);
        }
    }
}
