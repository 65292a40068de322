//! A small Thompson automaton for anchored whole-value matching.
//!
//! `regex-syntax` parses a pattern and gives its meaning (Unicode classes, case
//! folding, flags) as a [`Hir`]; this module turns that into a list of instructions
//! and answers one question: does the *whole* value match? Building the list costs
//! a few thousand instructions where a full regex engine costs tens of thousands:
//! a part repeated `{5,45}` times is compiled once and copied, its class stored
//! once. Matching steps every live state over each character (Pike's simulation):
//! time grows with value length × instructions, never exponentially. From a
//! pattern's second value on, [`super::dfa`] remembers the sets of states this
//! reaches and the steps between them. Constructs it does not take (word boundaries, byte-oriented classes) are
//! left to the `regex` crate by the caller.

use regex_syntax::hir::{Class, Hir, HirKind, Look};

/// Why a pattern was not compiled here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unsupported {
    /// A construct the automaton does not evaluate (word boundaries, bytes).
    Construct,
    /// The program would be larger than the limit.
    TooBig,
}

/// One step of the program.
#[derive(Debug, Clone, Copy)]
enum Inst {
    /// Consumes one character within the class stored at `ranges[start..end]`.
    Class { start: u32, end: u32 },
    /// Continues at both targets.
    Split(u32, u32),
    /// Continues at the target.
    Jump(u32),
    /// Continues at the next instruction when the assertion holds here.
    Assert(Assertion),
    /// The whole pattern matched.
    Match,
}

impl Inst {
    /// The instruction moved `shift` places on, its targets with it.
    fn shifted(self, shift: u32) -> Self {
        match self {
            Self::Split(first, second) => Self::Split(first + shift, second + shift),
            Self::Jump(target) => Self::Jump(target + shift),
            other => other,
        }
    }
}

/// The zero-width assertions the automaton evaluates.
#[derive(Debug, Clone, Copy)]
pub(super) enum Assertion {
    /// `\A`, or `^` without multi-line mode.
    Start,
    /// `\z`, or `$` without multi-line mode.
    End,
    /// `^` in multi-line mode.
    StartLine,
    /// `$` in multi-line mode.
    EndLine,
    /// `^` in multi-line CRLF mode.
    StartLineCrlf,
    /// `$` in multi-line CRLF mode.
    EndLineCrlf,
}

/// A compiled pattern: instructions, and the character ranges of its classes.
#[derive(Debug)]
pub(super) struct Program {
    insts: Vec<Inst>,
    ranges: Vec<(char, char)>,
}

impl Program {
    /// Compiles `hir` with at most `limit` bytes of instructions and ranges.
    ///
    /// # Errors
    /// [`Unsupported`] when `hir` uses a construct evaluated only by the `regex`
    /// crate, or would take more than `limit` bytes.
    pub(super) fn new(hir: &Hir, limit: usize) -> Result<Self, Unsupported> {
        let mut compiler = Compiler::new(limit);
        compiler.hir(hir)?;
        compiler.finish()
    }

    /// Whether the whole of `value` matches.
    #[must_use]
    pub(super) fn is_match(&self, value: &str) -> bool {
        let len = self.insts.len();
        // One allocation for both thread sets (each a dense and a sparse array).
        let mut slots = vec![0; 4 * len];
        let (first, second) = slots.split_at_mut(2 * len);
        let mut current = Threads::new(first);
        let mut next = Threads::new(second);
        let mut stack = Vec::with_capacity(len);
        let mut previous = None;
        let mut chars = value.chars().peekable();
        let mut position = Position {
            previous,
            next: chars.peek().copied(),
        };
        self.follow(0, position, &mut current, &mut stack);
        while let Some(ch) = chars.next() {
            if current.is_empty() {
                return false;
            }
            previous = Some(ch);
            position = Position {
                previous,
                next: chars.peek().copied(),
            };
            for &pc in current.list() {
                if let Inst::Class { start, end } = self.insts[pc as usize]
                    && self.class_contains(start, end, ch)
                {
                    self.follow(pc + 1, position, &mut next, &mut stack);
                }
            }
            std::mem::swap(&mut current, &mut next);
            next.clear();
        }
        current
            .list()
            .iter()
            .any(|&pc| matches!(self.insts[pc as usize], Inst::Match))
    }

    /// Whether the only assertions are `\A` and `\z` (`^` and `$` outside
    /// multi-line mode): then what a step reaches depends on the character's
    /// class and on whether it is the last one, which is what [`super::dfa`]
    /// caches.
    pub(super) fn asserts_only_text_ends(&self) -> bool {
        self.insts.iter().all(|inst| {
            !matches!(
                inst,
                Inst::Assert(
                    Assertion::StartLine
                        | Assertion::EndLine
                        | Assertion::StartLineCrlf
                        | Assertion::EndLineCrlf
                )
            )
        })
    }

    /// The states live before the first character of a value that has one
    /// (sorted).
    pub(super) fn start_states(&self) -> Vec<u32> {
        self.closure(|threads, stack| {
            let position = Position {
                previous: None,
                next: Some('\0'),
            };
            self.follow(0, position, threads, stack);
        })
    }

    /// The states live after `ch` from `states` (sorted), `last` when no
    /// character follows it. For programs that
    /// [assert only the text's ends](Program::asserts_only_text_ends): the
    /// character after `ch` is not looked at, only whether there is one.
    pub(super) fn step_states(&self, states: &[u32], ch: char, last: bool) -> Vec<u32> {
        self.closure(|threads, stack| {
            let position = Position {
                previous: Some(ch),
                next: (!last).then_some('\0'),
            };
            for &pc in states {
                if let Inst::Class { start, end } = self.insts[pc as usize]
                    && self.class_contains(start, end, ch)
                {
                    self.follow(pc + 1, position, threads, stack);
                }
            }
        })
    }

    /// Whether `states` include the match.
    pub(super) fn accepts(&self, states: &[u32]) -> bool {
        states
            .iter()
            .any(|&pc| matches!(self.insts[pc as usize], Inst::Match))
    }

    /// Each ASCII character's class: characters of one class are in the same
    /// ranges of every class instruction, so every step treats them alike.
    /// Returns the classes and their number.
    pub(super) fn ascii_classes(&self) -> ([u8; 128], usize) {
        let mut starts = [false; 129];
        for &(low, high) in &self.ranges {
            if let Some(low) = starts.get_mut(low as usize) {
                *low = true;
            }
            if let Some(after) = starts.get_mut(high as usize + 1) {
                *after = true;
            }
        }
        let mut classes = [0; 128];
        let mut class = 0_u8;
        for (ch, slot) in classes.iter_mut().enumerate().skip(1) {
            class += u8::from(starts[ch]);
            *slot = class;
        }
        (classes, usize::from(class) + 1)
    }

    /// The sorted states `fill` adds to an empty set.
    fn closure(&self, fill: impl FnOnce(&mut Threads, &mut Vec<u32>)) -> Vec<u32> {
        let len = self.insts.len();
        let mut slots = vec![0; 2 * len];
        let mut threads = Threads::new(&mut slots);
        let mut stack = Vec::with_capacity(len);
        fill(&mut threads, &mut stack);
        let mut states = threads.list().to_vec();
        states.sort_unstable();
        states
    }

    /// Adds `pc` and every state reachable from it without consuming a character.
    fn follow(&self, pc: u32, at: Position, threads: &mut Threads, stack: &mut Vec<u32>) {
        stack.push(pc);
        while let Some(pc) = stack.pop() {
            if !threads.insert(pc) {
                continue;
            }
            match self.insts[pc as usize] {
                Inst::Split(first, second) => {
                    stack.push(second);
                    stack.push(first);
                }
                Inst::Jump(target) => stack.push(target),
                Inst::Assert(assertion) if at.holds(assertion) => stack.push(pc + 1),
                Inst::Assert(_) | Inst::Class { .. } | Inst::Match => {}
            }
        }
    }

    fn class_contains(&self, start: u32, end: u32, ch: char) -> bool {
        let ranges = &self.ranges[start as usize..end as usize];
        ranges
            .binary_search_by(|&(low, high)| {
                if high < ch {
                    std::cmp::Ordering::Less
                } else if low > ch {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .is_ok()
    }
}

/// The characters on either side of a position in the value.
#[derive(Debug, Clone, Copy)]
struct Position {
    previous: Option<char>,
    next: Option<char>,
}

impl Position {
    fn holds(self, assertion: Assertion) -> bool {
        let Self { previous, next } = self;
        match assertion {
            Assertion::Start => previous.is_none(),
            Assertion::End => next.is_none(),
            Assertion::StartLine => matches!(previous, None | Some('\n')),
            Assertion::EndLine => matches!(next, None | Some('\n')),
            Assertion::StartLineCrlf => match previous {
                None | Some('\n') => true,
                Some('\r') => next != Some('\n'),
                Some(_) => false,
            },
            Assertion::EndLineCrlf => match next {
                None | Some('\r') => true,
                Some('\n') => previous != Some('\r'),
                Some(_) => false,
            },
        }
    }
}

/// A set of instruction indexes with insertion order, cleared in constant time,
/// in borrowed storage: `dense` lists the members, `sparse` gives each one's place.
struct Threads<'a> {
    dense: &'a mut [u32],
    sparse: &'a mut [u32],
    len: usize,
}

impl<'a> Threads<'a> {
    /// A set of indexes below half of `slots`' length.
    fn new(slots: &'a mut [u32]) -> Self {
        let (dense, sparse) = slots.split_at_mut(slots.len() / 2);
        Self {
            dense,
            sparse,
            len: 0,
        }
    }

    /// Inserts `pc`; false when it was already there.
    fn insert(&mut self, pc: u32) -> bool {
        let slot = self.sparse[pc as usize] as usize;
        if slot < self.len && self.dense[slot] == pc {
            return false;
        }
        self.sparse[pc as usize] = u32::try_from(self.len).unwrap_or(u32::MAX);
        self.dense[self.len] = pc;
        self.len += 1;
        true
    }

    fn list(&self) -> &[u32] {
        &self.dense[..self.len]
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn clear(&mut self) {
        self.len = 0;
    }
}

/// Builds a [`Program`] instruction by instruction: from a [`Hir`], or directly
/// from the quick reader (`super::quick`), which emits as it reads.
pub(super) struct Compiler {
    program: Program,
    limit: usize,
}

impl Compiler {
    /// An empty program of at most `limit` bytes.
    pub(super) fn new(limit: usize) -> Self {
        Self {
            // Room for a typical schema pattern without growing.
            program: Program {
                insts: Vec::with_capacity(128),
                ranges: Vec::with_capacity(16),
            },
            limit,
        }
    }

    /// The program, ending in a match.
    pub(super) fn finish(mut self) -> Result<Program, Unsupported> {
        self.push(Inst::Match)?;
        Ok(self.program)
    }

    /// Consumes the character `ch`.
    pub(super) fn literal(&mut self, ch: char) -> Result<(), Unsupported> {
        self.class_of([(ch, ch)])
    }

    /// Consumes one character within `ranges` (sorted, not overlapping).
    pub(super) fn class_of(
        &mut self,
        ranges: impl IntoIterator<Item = (char, char)>,
    ) -> Result<(), Unsupported> {
        let (start, end) = self.ranges(ranges)?;
        self.push(Inst::Class { start, end }).map(drop)
    }

    /// Continues only where `assertion` holds.
    pub(super) fn assert(&mut self, assertion: Assertion) -> Result<(), Unsupported> {
        self.push(Inst::Assert(assertion)).map(drop)
    }

    fn hir(&mut self, hir: &Hir) -> Result<(), Unsupported> {
        match hir.kind() {
            HirKind::Empty => Ok(()),
            HirKind::Literal(literal) => {
                let text = std::str::from_utf8(&literal.0).map_err(|_| Unsupported::Construct)?;
                text.chars().try_for_each(|ch| self.literal(ch))
            }
            HirKind::Class(Class::Unicode(class)) => self.class_of(
                class
                    .ranges()
                    .iter()
                    .map(|range| (range.start(), range.end())),
            ),
            HirKind::Class(Class::Bytes(_)) => Err(Unsupported::Construct),
            HirKind::Look(look) => {
                let assertion = match look {
                    Look::Start => Assertion::Start,
                    Look::End => Assertion::End,
                    Look::StartLF => Assertion::StartLine,
                    Look::EndLF => Assertion::EndLine,
                    Look::StartCRLF => Assertion::StartLineCrlf,
                    Look::EndCRLF => Assertion::EndLineCrlf,
                    _ => return Err(Unsupported::Construct),
                };
                self.assert(assertion)
            }
            HirKind::Capture(capture) => self.hir(&capture.sub),
            HirKind::Concat(parts) => parts.iter().try_for_each(|part| self.hir(part)),
            HirKind::Alternation(branches) => {
                let start = self.here();
                let mut ends = Vec::with_capacity(branches.len());
                for branch in branches {
                    self.hir(branch)?;
                    ends.push(self.here());
                }
                // The last branch ends where the alternation does.
                ends.pop();
                self.alternate(start, &ends)
            }
            HirKind::Repetition(repetition) => {
                let start = self.here();
                self.hir(&repetition.sub)?;
                self.repeat(start, repetition.min, repetition.max)
            }
        }
    }

    /// Turns the branches emitted from `start` on, the first ending at `ends[0]`,
    /// the next at `ends[1]` and so on (the last at the end), into `a|b|c`: a
    /// split before each branch but the last, a jump after each to the end.
    pub(super) fn alternate(&mut self, start: u32, ends: &[u32]) -> Result<(), Unsupported> {
        if ends.is_empty() {
            return Ok(());
        }
        let total = self.program.insts.len() + 2 * ends.len();
        self.reserve(total)?;
        let block = self.program.insts.split_off(start as usize);
        let end = to_u32(total);
        let mut from = start;
        for index in 0..=ends.len() {
            let to = ends
                .get(index)
                .copied()
                .unwrap_or(start + to_u32(block.len()));
            let last = index == ends.len();
            let branch = &block[(from - start) as usize..(to - start) as usize];
            if last {
                self.emit(branch, from);
            } else {
                // The next branch starts after this one and its jump.
                let next = self.here() + 1 + to_u32(branch.len()) + 1;
                self.put(Inst::Split(self.here() + 1, next));
                self.emit(branch, from);
                self.put(Inst::Jump(end));
            }
            from = to;
        }
        Ok(())
    }

    /// Repeats the part emitted from `start` on `{min,max}` times (no `max`: any
    /// number more): `min` copies, then `max - min` optional ones, each after a
    /// split to the end (without a maximum, one that loops back to its split).
    /// The part stays where it is as the first copy when `min` is at least one;
    /// further copies are its instructions shifted. A part only jumps within
    /// itself or to its own end, and its classes' ranges are shared by every copy.
    /// The size is checked once, before anything is emitted.
    pub(super) fn repeat(
        &mut self,
        start: u32,
        min: u32,
        max: Option<u32>,
    ) -> Result<(), Unsupported> {
        let end = self.here();
        let len = (end - start) as usize;
        let optional = max.map_or(1, |max| (max - min) as usize);
        let total = (start as usize)
            .saturating_add((min as usize).saturating_mul(len))
            .saturating_add(optional.saturating_mul(len + 1))
            .saturating_add(usize::from(max.is_none()));
        self.reserve(total)?;
        let last = to_u32(total);
        // Without a required copy, every copy follows a split: the part is moved.
        let moved = (min == 0).then(|| self.program.insts.split_off(start as usize));
        let copy = |compiler: &mut Self| match &moved {
            Some(part) => compiler.emit(part, start),
            None => compiler.copy(start, end),
        };
        for _ in 1..min {
            copy(self);
        }
        for _ in 0..optional {
            let split = self.here();
            self.put(Inst::Split(split + 1, last));
            copy(self);
            if max.is_none() {
                self.put(Inst::Jump(split));
            }
        }
        Ok(())
    }

    /// Emits a copy of the instructions at `start..end`, shifted to the end
    /// (room reserved).
    fn copy(&mut self, start: u32, end: u32) {
        let shift = self.here() - start;
        for pc in start..end {
            let inst = self.program.insts[pc as usize].shifted(shift);
            self.put(inst);
        }
    }

    /// Emits `part`, which was emitted at `start`, shifted to the end (room
    /// reserved).
    fn emit(&mut self, part: &[Inst], start: u32) {
        let shift = self.here() - start;
        self.program
            .insts
            .extend(part.iter().map(|inst| inst.shifted(shift)));
    }

    /// Room for `total` instructions, within the size limit.
    fn reserve(&mut self, total: usize) -> Result<(), Unsupported> {
        let bytes = total
            .saturating_mul(std::mem::size_of::<Inst>())
            .saturating_add(self.program.ranges.len() * std::mem::size_of::<(char, char)>());
        if bytes > self.limit {
            return Err(Unsupported::TooBig);
        }
        self.program
            .insts
            .reserve(total.saturating_sub(self.program.insts.len()));
        Ok(())
    }

    /// Emits `inst` (room reserved).
    fn put(&mut self, inst: Inst) {
        self.program.insts.push(inst);
    }

    fn ranges(
        &mut self,
        ranges: impl IntoIterator<Item = (char, char)>,
    ) -> Result<(u32, u32), Unsupported> {
        let start = self.program.ranges.len();
        self.program.ranges.extend(ranges);
        self.check_size()?;
        Ok((to_u32(start), to_u32(self.program.ranges.len())))
    }

    fn push(&mut self, inst: Inst) -> Result<usize, Unsupported> {
        self.program.insts.push(inst);
        self.check_size()?;
        Ok(self.program.insts.len() - 1)
    }

    /// Where the next instruction goes.
    pub(super) fn here(&self) -> u32 {
        to_u32(self.program.insts.len())
    }

    fn check_size(&self) -> Result<(), Unsupported> {
        let bytes = self.program.insts.len() * std::mem::size_of::<Inst>()
            + self.program.ranges.len() * std::mem::size_of::<(char, char)>();
        if bytes > self.limit {
            Err(Unsupported::TooBig)
        } else {
            Ok(())
        }
    }
}

/// Indexes stay far below `u32::MAX`: the size limit bounds them.
fn to_u32(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX)
}
