//! The memory allocator of a musl build: dlmalloc, with its memory from `mmap`.
//!
//! musl's own allocator maps and unmaps memory for each group of small blocks: a
//! 100-variable launch made 103 `mmap` and 71 `munmap` calls and 203 page faults,
//! and gave back all the time musl's start-up saves over glibc's (docs/DECISIONS.md,
//! "The installed binary is built for musl"). dlmalloc (the design glibc's own allocator comes
//! from, here as the `dlmalloc` crate, in Rust) takes memory from the kernel in
//! segments of 64 KiB or more and keeps what is freed for reuse: the same launch
//! makes 14 `mmap` calls and 128 page faults. A large schema's heap is reserved in
//! one segment on transparent huge pages, as glibc's is (the parent module).
//!
//! In front of dlmalloc, small blocks (up to [`SMALL_MAX`] bytes) come from runs
//! of [`RUN_BYTES`] cut in order, and a freed small block waits on a list of its
//! size for the next request of that size, as glibc's per-thread cache does.
//! dlmalloc took about 70 instructions a block and 115 to free one: a tenth of a
//! 10,000-variable check. Small blocks are never given back to dlmalloc: a
//! process keeps at most the small memory it once used at the same time.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use nix::libc;

use super::HUGE_PAGE_BYTES;

/// The global allocator of a musl build (`#[global_allocator]` in src/main.rs).
pub struct Allocator {
    /// Whether other threads may use the heap: then every call takes `busy`.
    shared: AtomicBool,
    /// Whether a thread is inside dlmalloc.
    busy: AtomicBool,
    heap: UnsafeCell<Heap>,
}

// SAFETY: `heap` is only reached through `Allocator::heap`: one thread at a time
// once `shared` is set, and before that there is only one thread (the contract
// of `Allocator::single_threaded`).
unsafe impl Sync for Allocator {}

impl Allocator {
    /// An allocator that has no memory yet, and locks on every call.
    #[must_use]
    pub const fn new() -> Self {
        Self::locking_from_start(true)
    }

    const fn locking_from_start(shared: bool) -> Self {
        Self {
            shared: AtomicBool::new(shared),
            busy: AtomicBool::new(false),
            heap: UnsafeCell::new(Heap::new()),
        }
    }

    /// An allocator that takes no lock until [`Allocator::threads_start`] is
    /// called. A launch and a check run on one thread, and the lock's atomic
    /// swap on every call was a tenth of the 10,000-variable check's time; glibc's
    /// allocator skips its locks the same way while a process has one thread.
    ///
    /// # Safety
    /// `threads_start` must be called before the process starts its second
    /// thread: src/main.rs calls it from `pthread_create`, which the linker
    /// wraps (`--wrap=pthread_create`, build.rs; a build without the wrap fails
    /// to link).
    #[must_use]
    pub const unsafe fn single_threaded() -> Self {
        Self::locking_from_start(false)
    }

    /// Every later call takes the lock: called before a thread is started.
    pub fn threads_start(&self) {
        self.shared.store(true, Ordering::SeqCst);
    }

    /// Runs `call` on the heap, holding it alone. A spin lock, not a `Mutex`:
    /// the uncontended `Mutex` cost a fifth of the 10,000-variable check's time
    /// in the allocator (perf); this lock is one atomic swap and one plain store.
    /// Only the AWS path starts threads, and they allocate little.
    fn heap<T>(&self, call: impl FnOnce(&mut Heap) -> T) -> T {
        if !self.shared.load(Ordering::Relaxed) {
            // SAFETY: the process has one thread (`single_threaded`'s contract):
            // this one.
            return call(unsafe { &mut *self.heap.get() });
        }
        let mut spins = 0u32;
        while self.busy.swap(true, Ordering::Acquire) {
            while self.busy.load(Ordering::Relaxed) {
                spins += 1;
                if spins < 64 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
        }
        let _leave = Leave(&self.busy);
        // SAFETY: `busy` was false and is now true: this thread alone reaches
        // the heap until `_leave` is dropped.
        call(unsafe { &mut *self.heap.get() })
    }
}

/// Leaves the heap when dropped, on every way out of a call.
struct Leave<'a>(&'a AtomicBool);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Default for Allocator {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: every call goes to the heap through `Allocator::heap`, one thread at a
// time (under the lock once threads start), with the layout it was given; the
// heap returns blocks of at least that size and alignment, or null.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for the impl; the layout's size is not zero (GlobalAlloc's contract).
        self.heap(|heap| unsafe { heap.malloc(layout.size(), layout.align()) })
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        self.heap(|heap| unsafe { heap.calloc(layout.size(), layout.align()) })
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: `block` came from this allocator with `layout` (the caller's contract).
        self.heap(|heap| unsafe { heap.free(block, layout.size(), layout.align()) });
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`; `new_size` is not zero (the caller's contract).
        self.heap(|heap| unsafe { heap.realloc(block, layout.size(), layout.align(), new_size) })
    }
}

/// The largest block served from runs.
const SMALL_MAX: usize = 512;

/// The size step of small blocks, and their alignment.
const SMALL_ALIGN: usize = 16;

/// How many sizes of small blocks there are.
const CLASSES: usize = SMALL_MAX / SMALL_ALIGN;

/// Bytes taken from dlmalloc at a time for small blocks.
const RUN_BYTES: usize = 32 * 1024;

/// dlmalloc, with small blocks served in front of it.
struct Heap {
    /// The first freed block of each size class (each free block's first word
    /// points to the next one; null ends the list).
    free: [*mut u8; CLASSES],
    /// Where the current run's unused part starts and ends.
    next: *mut u8,
    end: *mut u8,
    large: dlmalloc::Dlmalloc<Pages>,
}

impl Heap {
    const fn new() -> Self {
        Self {
            free: [ptr::null_mut(); CLASSES],
            next: ptr::null_mut(),
            end: ptr::null_mut(),
            large: dlmalloc::Dlmalloc::new_with_allocator(Pages),
        }
    }

    /// The size class of a block of `size` bytes (not zero) aligned to
    /// `align`, when it is small.
    fn class(size: usize, align: usize) -> Option<usize> {
        (align <= SMALL_ALIGN && size <= SMALL_MAX).then(|| (size - 1) / SMALL_ALIGN)
    }

    /// A block of `size` bytes (not zero) aligned to `align`, or null.
    ///
    /// # Safety
    /// As for [`GlobalAlloc::alloc`].
    unsafe fn malloc(&mut self, size: usize, align: usize) -> *mut u8 {
        match Self::class(size, align) {
            // SAFETY: the class's blocks hold `size` bytes, aligned to 16.
            Some(class) => unsafe { self.small(class) },
            // SAFETY: the caller's contract.
            None => unsafe { self.large.malloc(size, align) },
        }
    }

    /// A block of class `class`: the last one freed, or the next one of the
    /// run (a new run when it is used up), or null.
    ///
    /// # Safety
    /// `class` is below [`CLASSES`].
    #[expect(
        clippy::cast_ptr_alignment,
        reason = "small blocks are 16-byte aligned: runs are, and block sizes are multiples of 16"
    )]
    unsafe fn small(&mut self, class: usize) -> *mut u8 {
        let head = self.free[class];
        if !head.is_null() {
            // SAFETY: a freed block of this class holds the next one's address
            // in its first word (written by `free`, 16-byte aligned).
            self.free[class] = unsafe { head.cast::<*mut u8>().read() };
            return head;
        }
        let bytes = (class + 1) * SMALL_ALIGN;
        if (self.end as usize) - (self.next as usize) < bytes {
            // SAFETY: a non-zero size and a valid alignment.
            let run = unsafe { self.large.malloc(RUN_BYTES, SMALL_ALIGN) };
            if run.is_null() {
                return run;
            }
            self.next = run;
            // SAFETY: the run holds `RUN_BYTES`.
            self.end = unsafe { run.add(RUN_BYTES) };
        }
        let block = self.next;
        // SAFETY: at least `bytes` remain in the run after `block`.
        self.next = unsafe { block.add(bytes) };
        block
    }

    /// Takes back `block`, allocated with `size` and `align`.
    ///
    /// # Safety
    /// As for [`GlobalAlloc::dealloc`].
    #[expect(
        clippy::cast_ptr_alignment,
        reason = "small blocks are 16-byte aligned: runs are, and block sizes are multiples of 16"
    )]
    unsafe fn free(&mut self, block: *mut u8, size: usize, align: usize) {
        match Self::class(size, align) {
            Some(class) => {
                // SAFETY: a small block of this class: at least 16 bytes,
                // 16-byte aligned, and the caller's no more.
                unsafe { block.cast::<*mut u8>().write(self.free[class]) };
                self.free[class] = block;
            }
            // SAFETY: the caller's contract.
            None => unsafe { self.large.free(block, size, align) },
        }
    }

    /// As [`Heap::malloc`], the block's bytes zero.
    ///
    /// # Safety
    /// As for [`GlobalAlloc::alloc_zeroed`].
    unsafe fn calloc(&mut self, size: usize, align: usize) -> *mut u8 {
        match Self::class(size, align) {
            Some(class) => {
                // SAFETY: as in `malloc`.
                let block = unsafe { self.small(class) };
                if !block.is_null() {
                    // SAFETY: the block holds `size` bytes; a reused one is not zero.
                    unsafe { ptr::write_bytes(block, 0, size) };
                }
                block
            }
            // SAFETY: the caller's contract.
            None => unsafe { self.large.calloc(size, align) },
        }
    }

    /// `block` (of `size` bytes, aligned to `align`) resized to `new_size`
    /// bytes, contents kept; null (and `block` untouched) when out of memory.
    ///
    /// # Safety
    /// As for [`GlobalAlloc::realloc`].
    unsafe fn realloc(
        &mut self,
        block: *mut u8,
        size: usize,
        align: usize,
        new_size: usize,
    ) -> *mut u8 {
        match (Self::class(size, align), Self::class(new_size, align)) {
            // SAFETY: the caller's contract.
            (None, None) => unsafe { self.large.realloc(block, size, align, new_size) },
            (Some(class), Some(new_class)) if class == new_class => block,
            _ => {
                // SAFETY: the caller's contract.
                let moved = unsafe { self.malloc(new_size, align) };
                if !moved.is_null() {
                    // SAFETY: both blocks hold the bytes copied; distinct blocks.
                    unsafe {
                        ptr::copy_nonoverlapping(block, moved, size.min(new_size));
                        self.free(block, size, align);
                    }
                }
                moved
            }
        }
    }
}

/// Bytes the allocator's next request for memory maps at least, on huge pages;
/// zero when no large schema is coming.
static RESERVE_BYTES: AtomicUsize = AtomicUsize::new(0);

/// The flag of a segment reserved for a large schema: never given back to the
/// kernel while the process lives (it would be faulted in again, 4 KiB at a time).
const RESERVED: u32 = 1;

/// Has the allocator's next request for memory take `bytes` at once, advised for
/// transparent huge pages.
pub(super) fn reserve_huge(bytes: usize) {
    RESERVE_BYTES.store(bytes, Ordering::Relaxed);
}

/// Where dlmalloc gets memory: anonymous private mappings.
struct Pages;

impl Pages {
    fn map(bytes: usize) -> *mut u8 {
        // SAFETY: a new anonymous mapping; no existing memory is affected.
        let address = unsafe {
            libc::mmap(
                ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_ANON | libc::MAP_PRIVATE,
                -1,
                0,
            )
        };
        if address == libc::MAP_FAILED {
            ptr::null_mut()
        } else {
            address.cast()
        }
    }

    /// Advises the whole huge pages inside `bytes` from `start` for huge pages.
    fn advise_huge(start: *mut u8, bytes: usize) {
        let from = (start as usize).next_multiple_of(HUGE_PAGE_BYTES);
        let to = (start as usize + bytes) / HUGE_PAGE_BYTES * HUGE_PAGE_BYTES;
        if to > from {
            // SAFETY: the range is inside a mapping this allocator just made;
            // the advice changes how the kernel backs it, never its contents.
            unsafe {
                libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_HUGEPAGE);
            }
        }
    }
}

// SAFETY: each method maps, remaps or unmaps only memory this allocator mapped,
// as dlmalloc asks (the same calls as the crate's own Linux allocator).
unsafe impl dlmalloc::Allocator for Pages {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        let reserve = RESERVE_BYTES.swap(0, Ordering::Relaxed);
        if reserve > size {
            let bytes = reserve.next_multiple_of(HUGE_PAGE_BYTES);
            let start = Self::map(bytes);
            if !start.is_null() {
                Self::advise_huge(start, bytes);
                return (start, bytes, RESERVED);
            }
        }
        let start = Self::map(size);
        if start.is_null() {
            (start, 0, 0)
        } else {
            (start, size, 0)
        }
    }

    fn remap(&self, start: *mut u8, old_size: usize, new_size: usize, can_move: bool) -> *mut u8 {
        let flags = if can_move { libc::MREMAP_MAYMOVE } else { 0 };
        // SAFETY: `start..start + old_size` is a mapping of this allocator.
        let moved = unsafe { libc::mremap(start.cast(), old_size, new_size, flags) };
        if moved == libc::MAP_FAILED {
            ptr::null_mut()
        } else {
            moved.cast()
        }
    }

    fn free_part(&self, start: *mut u8, old_size: usize, new_size: usize) -> bool {
        // SAFETY: as for `remap`; shrinking in place never moves the mapping.
        unsafe {
            if libc::mremap(start.cast(), old_size, new_size, 0) != libc::MAP_FAILED {
                return true;
            }
            libc::munmap(start.add(new_size).cast(), old_size - new_size) == 0
        }
    }

    fn free(&self, start: *mut u8, size: usize) -> bool {
        // SAFETY: as for `remap`; dlmalloc holds no block inside it any more.
        unsafe { libc::munmap(start.cast(), size) == 0 }
    }

    fn can_release_part(&self, flags: u32) -> bool {
        flags != RESERVED
    }

    fn allocates_zeros(&self) -> bool {
        true
    }

    fn page_size(&self) -> usize {
        4096
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::{Mutex, PoisonError};

    /// The reserve is one per process: tests that allocate take turns.
    static SERIAL: Mutex<()> = Mutex::new(());

    #[test]
    fn blocks_hold_their_size_and_alignment_and_keep_their_contents() {
        let _turn = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
        let allocator = Allocator::new();
        let mut blocks = Vec::new();
        for (index, (size, align)) in [(1, 1), (24, 8), (100, 16), (4096, 64), (300_000, 4096)]
            .into_iter()
            .enumerate()
        {
            let layout = Layout::from_size_align(size, align).unwrap();
            // SAFETY: a non-zero layout; the block is freed below with it.
            let block = unsafe { allocator.alloc(layout) };
            assert!(!block.is_null());
            assert_eq!(block as usize % align, 0, "{size} bytes aligned to {align}");
            // SAFETY: the block holds `size` bytes.
            unsafe { ptr::write_bytes(block, u8::try_from(index).unwrap(), size) };
            blocks.push((block, layout, index));
        }
        for (block, layout, index) in blocks {
            // SAFETY: written above, `layout.size()` bytes.
            let bytes = unsafe { std::slice::from_raw_parts(block, layout.size()) };
            assert!(bytes.iter().all(|&byte| usize::from(byte) == index));
            // SAFETY: allocated above with `layout`.
            unsafe { allocator.dealloc(block, layout) };
        }
    }

    #[test]
    fn small_blocks_are_reused_by_size_and_keep_contents_across_sizes() {
        let _turn = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
        let allocator = Allocator::new();
        let small = Layout::from_size_align(40, 8).unwrap();
        // SAFETY: non-zero layouts; every block is freed with its own below.
        unsafe {
            let first = allocator.alloc(small);
            let second = allocator.alloc(small);
            assert_ne!(first, second);
            assert_eq!(
                second as usize - first as usize,
                48,
                "cut in order from a run"
            );
            allocator.dealloc(first, small);
            assert_eq!(allocator.alloc(small), first, "the freed block comes back");
            // A reused block is zeroed when asked.
            ptr::write_bytes(first, 0xAB, 40);
            allocator.dealloc(first, small);
            let zeroed = allocator.alloc_zeroed(small);
            assert_eq!(zeroed, first);
            assert!(
                std::slice::from_raw_parts(zeroed, 40)
                    .iter()
                    .all(|&b| b == 0)
            );
            // Growing within the size class keeps the block; across classes and
            // into dlmalloc's sizes the contents move with it.
            ptr::write_bytes(zeroed, 7, 40);
            assert_eq!(allocator.realloc(zeroed, small, 44), zeroed);
            let grown = allocator.realloc(zeroed, Layout::from_size_align(44, 8).unwrap(), 300);
            assert!(
                std::slice::from_raw_parts(grown, 40)
                    .iter()
                    .all(|&b| b == 7)
            );
            let large = allocator.realloc(grown, Layout::from_size_align(300, 8).unwrap(), 5000);
            assert!(
                std::slice::from_raw_parts(large, 40)
                    .iter()
                    .all(|&b| b == 7)
            );
            let back = allocator.realloc(large, Layout::from_size_align(5000, 8).unwrap(), 40);
            assert!(std::slice::from_raw_parts(back, 40).iter().all(|&b| b == 7));
            allocator.dealloc(back, small);
            allocator.dealloc(second, small);
            // Over-aligned small requests go to dlmalloc, aligned.
            let aligned = Layout::from_size_align(32, 64).unwrap();
            let block = allocator.alloc(aligned);
            assert_eq!(block as usize % 64, 0);
            allocator.dealloc(block, aligned);
        }
    }

    #[test]
    fn threads_allocating_at_once_never_share_a_block() {
        let _turn = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
        let allocator = Allocator::new();
        std::thread::scope(|scope| {
            for thread in 0u8..4 {
                let allocator = &allocator;
                scope.spawn(move || {
                    let mut held = Vec::new();
                    for round in 0..5_000usize {
                        let layout = Layout::from_size_align(8 + round % 200, 8).unwrap();
                        // SAFETY: a non-zero layout, freed below with it.
                        let block = unsafe { allocator.alloc(layout) };
                        assert!(!block.is_null());
                        // SAFETY: the block holds `layout.size()` bytes.
                        unsafe { ptr::write_bytes(block, thread, layout.size()) };
                        held.push((block, layout));
                        if round % 3 == 0 {
                            let (block, layout) = held.swap_remove(round % held.len());
                            // SAFETY: written above; allocated with `layout`.
                            let bytes = unsafe { std::slice::from_raw_parts(block, layout.size()) };
                            assert!(bytes.iter().all(|&byte| byte == thread), "overwritten");
                            // SAFETY: allocated above with `layout`.
                            unsafe { allocator.dealloc(block, layout) };
                        }
                    }
                    for (block, layout) in held {
                        // SAFETY: as above.
                        let bytes = unsafe { std::slice::from_raw_parts(block, layout.size()) };
                        assert!(bytes.iter().all(|&byte| byte == thread), "overwritten");
                        // SAFETY: as above.
                        unsafe { allocator.dealloc(block, layout) };
                    }
                });
            }
        });
    }

    #[test]
    fn an_allocator_told_of_threads_locks_for_them() {
        let _turn = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
        // SAFETY: `threads_start` is called below before the threads start.
        let allocator = unsafe { Allocator::single_threaded() };
        let layout = Layout::from_size_align(48, 8).unwrap();
        // SAFETY: a non-zero layout, freed at once.
        unsafe { allocator.dealloc(allocator.alloc(layout), layout) };
        assert!(!allocator.shared.load(Ordering::Relaxed));
        allocator.threads_start();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..5_000 {
                        // SAFETY: as above.
                        let block = unsafe { allocator.alloc(layout) };
                        assert!(!block.is_null());
                        // SAFETY: allocated just above with `layout`.
                        unsafe { allocator.dealloc(block, layout) };
                    }
                });
            }
        });
        assert!(!allocator.busy.load(Ordering::Relaxed), "the lock is left");
    }

    #[test]
    fn a_reserved_heap_is_mapped_once_on_huge_pages_and_kept() {
        let _turn = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
        let allocator = Allocator::new();
        reserve_huge(8 * HUGE_PAGE_BYTES);
        let layout = Layout::from_size_align(64, 8).unwrap();
        // SAFETY: a non-zero layout, freed below.
        let first = unsafe { allocator.alloc(layout) };
        assert!(!first.is_null());
        assert_eq!(
            RESERVE_BYTES.load(Ordering::Relaxed),
            0,
            "the reserve is used once"
        );
        if std::path::Path::new("/sys/kernel/mm/transparent_hugepage").exists() {
            let flags = super::super::tests::vm_flags_at(first as usize + 4 * HUGE_PAGE_BYTES);
            assert!(flags.split(' ').any(|flag| flag == "hg"), "{flags}");
        }
        // SAFETY: allocated above with `layout`.
        unsafe { allocator.dealloc(first, layout) };
        // SAFETY: as above.
        let again = unsafe { allocator.alloc(layout) };
        assert!(!again.is_null());
        // SAFETY: allocated just above with `layout`.
        unsafe { allocator.dealloc(again, layout) };
    }
}
