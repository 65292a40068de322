//! Room for a large schema's working memory, on transparent huge pages.
//!
//! Loading and checking a schema of 10,000 variables touches about 14 MB of heap:
//! some 3,700 page faults of 4 KiB, each a trap into the kernel (and, in a virtual
//! machine such as a Firecracker task, often into the hypervisor: about 2 µs each,
//! measured). Before such a schema is read, [`prepare_for_schema`] reserves that
//! heap in one piece and advises the kernel to back it with 2 MiB pages, so the
//! same memory arrives in a few dozen faults. Small schemas are left alone: a huge
//! page is zeroed whole however little of it is used, which would slow the common
//! launch down. glibc's allocator is told through `mallopt`; a musl build has its
//! own allocator ([`Allocator`], dlmalloc), which maps the reserve itself. Where
//! the kernel has no transparent huge pages, or on other systems, this does
//! nothing (docs/DECISIONS.md, "Large schemas use huge pages").

#[cfg(all(target_os = "linux", target_env = "musl"))]
mod allocator;

#[cfg(all(target_os = "linux", target_env = "musl"))]
pub use allocator::Allocator;

#[cfg(all(target_os = "linux", target_env = "musl", target_arch = "x86_64"))]
mod memcpy;

use std::ops::Range;

/// Schemas smaller than this leave the heap as it is (about 5,000 variables; the
/// heap they need would fill few huge pages).
pub const LARGE_SCHEMA_BYTES: u64 = 256 * 1024;

/// Heap bytes a schema needs per byte of its text, rounded up (measured: 14 MB at
/// the peak for a 459 KB schema of 10,000 variables).
const HEAP_BYTES_PER_SCHEMA_BYTE: u64 = 32;

/// The most heap reserved: glibc serves larger blocks from separate mappings,
/// outside the heap (its largest `M_MMAP_THRESHOLD`).
const MAX_RESERVE_BYTES: usize = 30 * 1024 * 1024;

/// The size of a transparent huge page on x86-64 and aarch64 (4 KiB base pages).
const HUGE_PAGE_BYTES: usize = 2 * 1024 * 1024;

/// The heap a schema of `schema_bytes` needs, or `None` when it is small.
#[must_use]
pub fn reserve_for(schema_bytes: u64) -> Option<usize> {
    if schema_bytes < LARGE_SCHEMA_BYTES {
        return None;
    }
    let wanted = schema_bytes.saturating_mul(HEAP_BYTES_PER_SCHEMA_BYTE);
    Some(usize::try_from(wanted).map_or(MAX_RESERVE_BYTES, |bytes| bytes.min(MAX_RESERVE_BYTES)))
}

/// Prepares the heap for loading the schema at `path`, when it is large; once per
/// process (later calls do nothing). Any failure (no such file, no huge pages)
/// leaves the heap as it was: loading the schema reports what is wrong with the
/// file.
pub fn prepare_for_schema(path: &std::path::Path) {
    static PREPARED: std::sync::Once = std::sync::Once::new();
    PREPARED.call_once(|| {
        if let Ok(meta) = std::fs::metadata(path)
            && let Some(bytes) = reserve_for(meta.len())
        {
            reserve_huge(bytes);
        }
    });
}

/// Reserves `bytes` of heap advised for huge pages; the advised range, if any.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn reserve_huge(bytes: usize) -> Option<Range<usize>> {
    use nix::libc;
    let threshold = libc::c_int::try_from(MAX_RESERVE_BYTES + HUGE_PAGE_BYTES).ok()?;
    // SAFETY: `mallopt` only changes glibc's allocation policy, which every later
    // allocation honours. The block is the allocator's own, freed before any other
    // code sees it; `madvise` only changes how the kernel backs pages of it, never
    // their contents or mapping, so memory reused from it stays valid.
    unsafe {
        // Large blocks (the 5 MB vector of specifications) stay in the heap rather
        // than in separate 4 KiB-backed mappings, and freeing does not hand the
        // heap back to the kernel only to fault it in again.
        libc::mallopt(libc::M_MMAP_THRESHOLD, threshold);
        libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX);
        let block = libc::malloc(bytes);
        if block.is_null() {
            return None;
        }
        let start = (block as usize).next_multiple_of(HUGE_PAGE_BYTES);
        let end = (block as usize + bytes) / HUGE_PAGE_BYTES * HUGE_PAGE_BYTES;
        let advised = (end > start
            && libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) == 0)
            .then_some(start..end);
        libc::free(block);
        advised
    }
}

/// On musl, envgate's own allocator maps the reserve with its next request for
/// memory; the range is not known before then.
#[cfg(all(target_os = "linux", target_env = "musl"))]
fn reserve_huge(bytes: usize) -> Option<Range<usize>> {
    allocator::reserve_huge(bytes);
    None
}

/// Elsewhere the heap is left as it is.
#[cfg(not(all(target_os = "linux", any(target_env = "gnu", target_env = "musl"))))]
fn reserve_huge(_bytes: usize) -> Option<Range<usize>> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_schemas_reserve_nothing() {
        assert_eq!(reserve_for(0), None);
        assert_eq!(reserve_for(4_500), None, "a 100-variable schema");
        assert_eq!(reserve_for(LARGE_SCHEMA_BYTES - 1), None);
    }

    #[test]
    fn large_schemas_reserve_in_proportion_up_to_the_limit() {
        assert_eq!(reserve_for(458_902), Some(458_902 * 32), "10,000 variables");
        assert_eq!(reserve_for(4 * 1024 * 1024), Some(MAX_RESERVE_BYTES));
        assert_eq!(reserve_for(u64::MAX), Some(MAX_RESERVE_BYTES));
    }

    /// The kernel's flags for the mapping holding `address` (`VmFlags` in smaps).
    pub(super) fn vm_flags_at(address: usize) -> String {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ')
                && let Some((from, to)) = range.split_once('-')
                && let (Ok(from), Ok(to)) = (
                    usize::from_str_radix(from, 16),
                    usize::from_str_radix(to, 16),
                )
            {
                inside = (from..to).contains(&address);
            } else if inside && let Some(flags) = line.strip_prefix("VmFlags:") {
                return flags.trim().to_owned();
            }
        }
        panic!("no mapping holds {address:#x}");
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn the_reserved_heap_is_advised_for_huge_pages() {
        if !std::path::Path::new("/sys/kernel/mm/transparent_hugepage").exists() {
            // A kernel without transparent huge pages refuses the advice.
            assert_eq!(reserve_huge(8 * HUGE_PAGE_BYTES), None);
            return;
        }
        let advised = reserve_huge(8 * HUGE_PAGE_BYTES).expect("advised");
        assert!(advised.len() >= 6 * HUGE_PAGE_BYTES, "{advised:x?}");
        assert_eq!(advised.start % HUGE_PAGE_BYTES, 0);
        let flags = vm_flags_at(advised.start);
        assert!(flags.split(' ').any(|flag| flag == "hg"), "{flags}");
        // Memory handed out from the reserve is ordinary, usable memory.
        let mut bytes = vec![0u8; 4 * HUGE_PAGE_BYTES];
        bytes[HUGE_PAGE_BYTES] = 1;
        assert_eq!(
            bytes.iter().map(|&byte| usize::from(byte)).sum::<usize>(),
            1
        );
    }
}
