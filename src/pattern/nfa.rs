//! A small Thompson automaton for anchored whole-value matching.
//!
//! `regex-syntax` parses a pattern and gives its meaning (Unicode classes, case
//! folding, flags) as a [`Hir`]; this module turns that into a list of instructions
//! and answers one question: does the *whole* value match? Building the list costs
//! a few thousand instructions where a full regex engine costs tens of thousands:
//! a part repeated `{5,45}` times is compiled once and copied, its class stored
//! once. Matching steps every live state over each character (Pike's simulation):
//! time grows with value length × instructions, never exponentially, and no match
//! cache outlives a call. Constructs it does not take (word boundaries, byte-oriented classes) are
//! left to the `regex` crate by the caller.

use regex_syntax::hir::{Class, ClassUnicode, Hir, HirKind, Look};

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

/// The zero-width assertions the automaton evaluates.
#[derive(Debug, Clone, Copy)]
enum Assertion {
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
        let mut compiler = Compiler {
            // Room for a typical schema pattern without growing.
            program: Program {
                insts: Vec::with_capacity(128),
                ranges: Vec::with_capacity(16),
            },
            limit,
        };
        compiler.hir(hir)?;
        compiler.push(Inst::Match)?;
        Ok(compiler.program)
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

struct Compiler {
    program: Program,
    limit: usize,
}

impl Compiler {
    fn hir(&mut self, hir: &Hir) -> Result<(), Unsupported> {
        match hir.kind() {
            HirKind::Empty => Ok(()),
            HirKind::Literal(literal) => {
                let text = std::str::from_utf8(&literal.0).map_err(|_| Unsupported::Construct)?;
                for ch in text.chars() {
                    let (start, end) = self.ranges([(ch, ch)])?;
                    self.push(Inst::Class { start, end })?;
                }
                Ok(())
            }
            HirKind::Class(Class::Unicode(class)) => {
                let (start, end) = self.class(class)?;
                self.push(Inst::Class { start, end }).map(drop)
            }
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
                self.push(Inst::Assert(assertion)).map(drop)
            }
            HirKind::Capture(capture) => self.hir(&capture.sub),
            HirKind::Concat(parts) => parts.iter().try_for_each(|part| self.hir(part)),
            HirKind::Alternation(branches) => self.alternation(branches),
            HirKind::Repetition(repetition) => {
                self.repetition(&repetition.sub, repetition.min, repetition.max)
            }
        }
    }

    /// `a|b|c`: a split before each branch but the last, a jump after each.
    fn alternation(&mut self, branches: &[Hir]) -> Result<(), Unsupported> {
        let mut jumps = Vec::with_capacity(branches.len());
        for (index, branch) in branches.iter().enumerate() {
            let last = index + 1 == branches.len();
            let split = if last {
                None
            } else {
                Some(self.push(Inst::Split(0, 0))?)
            };
            self.hir(branch)?;
            if !last {
                jumps.push(self.push(Inst::Jump(0))?);
            }
            if let Some(split) = split {
                let next = self.here();
                self.program.insts[split] = Inst::Split(to_u32(split + 1), next);
            }
        }
        let end = self.here();
        for jump in jumps {
            self.program.insts[jump] = Inst::Jump(end);
        }
        Ok(())
    }

    /// `sub{min,max}`: `min` copies, then `max - min` optional ones (or a loop).
    /// `sub` is compiled once; further copies are its instructions shifted.
    fn repetition(&mut self, sub: &Hir, min: u32, max: Option<u32>) -> Result<(), Unsupported> {
        let mut compiled = None;
        for _ in 0..min {
            self.copy(sub, &mut compiled)?;
        }
        let Some(max) = max else {
            let split = self.push(Inst::Split(0, 0))?;
            self.copy(sub, &mut compiled)?;
            self.push(Inst::Jump(to_u32(split)))?;
            let end = self.here();
            self.program.insts[split] = Inst::Split(to_u32(split + 1), end);
            return Ok(());
        };
        let mut splits = Vec::new();
        for _ in min..max {
            splits.push(self.push(Inst::Split(0, 0))?);
            self.copy(sub, &mut compiled)?;
        }
        let end = self.here();
        for split in splits {
            self.program.insts[split] = Inst::Split(to_u32(split + 1), end);
        }
        Ok(())
    }

    /// Emits `sub`: compiled the first time (its instructions' range noted in
    /// `compiled`), then copied from there with its targets shifted. A compiled
    /// part only jumps within itself or to its own end, and its classes' ranges are
    /// shared by every copy.
    fn copy(&mut self, sub: &Hir, compiled: &mut Option<(u32, u32)>) -> Result<(), Unsupported> {
        let Some((start, end)) = *compiled else {
            let start = self.here();
            self.hir(sub)?;
            *compiled = Some((start, self.here()));
            return Ok(());
        };
        let shift = self.here() - start;
        for pc in start..end {
            let inst = match self.program.insts[pc as usize] {
                Inst::Split(first, second) => Inst::Split(first + shift, second + shift),
                Inst::Jump(target) => Inst::Jump(target + shift),
                other => other,
            };
            self.program.insts.push(inst);
        }
        self.check_size()
    }

    fn class(&mut self, class: &ClassUnicode) -> Result<(u32, u32), Unsupported> {
        self.ranges(
            class
                .ranges()
                .iter()
                .map(|range| (range.start(), range.end())),
        )
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

    fn here(&self) -> u32 {
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
