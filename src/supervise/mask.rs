//! Output masking (`--mask`): every sensitive value in the program's output
//! becomes `[redacted:NAME]`.
//!
//! Pure logic. [`Masker`] holds one Aho-Corasick automaton over every form of
//! every sensitive value ([`forms`]: as is; base64 and URL-safe base64, alone,
//! wrapped at 64 and 76 columns, and inside a longer base64 text at each of the
//! three byte alignments; percent-encoded fully, as Python's `quote` does
//! (keeping `/`), or with only `@` encoded, in upper- and lower-case hex;
//! form-encoded; as a JSON string writes it), so a chunk of output is searched in
//! one pass whatever the number of values. [`MaskStream`] carries what a stream
//! needs across writes: when a chunk ends with bytes that could begin a value, or
//! with a match that could still grow into a longer value, they are held back
//! until the next chunk shows which (or the stream ends), so a value split across
//! writes is found, and masking a stream cut anywhere equals masking the whole
//! text at once. Nothing else is held: a line that cannot begin a value passes at
//! once, and the memory used is bounded by the chunk size plus the longest value.
//! When the stream ends with a held tail of at least [`MIN_MASKED_BYTES`] that
//! begins a value (the program died mid-value), the tail is redacted too.
//!
//! Speed: the automaton runs only around candidates. Every form is at least
//! [`MIN_MASKED_BYTES`] long, so with `L` the shortest form, any occurrence
//! contains a 4-byte window that starts at a multiple of `L - 3`; a bitset of the
//! hashes of every 4-byte window of every form ([`GramFilter`]) tells which of
//! those positions could be inside a value, and only the bytes around a hit are
//! searched. On log text with 32-byte values this looks at one position in 29.

use std::fmt::Write as _;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroize;

/// Values shorter than this are not masked: a three-letter value would redact
/// every word that contains it, and is not a secret worth the name.
pub const MIN_MASKED_BYTES: usize = 4;

/// What RFC 3986 leaves unencoded: letters, digits, `-._~`.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The searcher over every form of every sensitive value.
pub struct Masker {
    automaton: Option<AhoCorasick>,
    /// The replacement for each pattern, by pattern index.
    replacements: Vec<Arc<[u8]>>,
    /// Every pattern, sorted, to tell whether a tail could begin one.
    sorted: Vec<Vec<u8>>,
    /// The longest pattern, in bytes.
    longest: usize,
    /// Which positions could be inside a pattern.
    filter: GramFilter,
    /// Bit `a * 256 + b` is set when some pattern starts with the bytes `a b`,
    /// bit `a` of `first_bytes` when one starts with `a`: most tails are told
    /// apart from every pattern without a search.
    first_pairs: Vec<u64>,
    first_bytes: [u64; 4],
}

/// Bits in the 4-byte-window filter (512 KiB: stays in a core's L2 cache; every
/// form of a hundred values sets about 50,000 of them).
const FILTER_BITS: u32 = 22;

/// A bitset of the hashes of every 4-byte window of every pattern, probed at a
/// stride that no pattern can slip between.
struct GramFilter {
    bits: Vec<u64>,
    /// Probe every `stride` bytes: the shortest pattern's length minus 3.
    stride: usize,
}

impl GramFilter {
    fn new(patterns: &[Vec<u8>]) -> Self {
        let mut bits = vec![0u64; 1 << (FILTER_BITS - 6)];
        for pattern in patterns {
            for gram in pattern.windows(4) {
                let hash = Self::hash(gram);
                bits[hash >> 6] |= 1 << (hash & 63);
            }
        }
        let shortest = patterns.iter().map(Vec::len).min().unwrap_or(4);
        Self {
            bits,
            stride: shortest.saturating_sub(3).max(1),
        }
    }

    fn hash(gram: &[u8]) -> usize {
        let word = u32::from_le_bytes([gram[0], gram[1], gram[2], gram[3]]);
        (word.wrapping_mul(0x9E37_79B1) >> (32 - FILTER_BITS)) as usize
    }

    fn hit(&self, gram: &[u8]) -> bool {
        let hash = Self::hash(gram);
        self.bits[hash >> 6] & (1 << (hash & 63)) != 0
    }
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Masker")
            .field("patterns", &self.sorted.len())
            .finish_non_exhaustive()
    }
}

impl Drop for Masker {
    fn drop(&mut self) {
        for pattern in &mut self.sorted {
            pattern.zeroize();
        }
    }
}

/// What Python's `urllib.parse.quote` leaves unencoded by default: the
/// unreserved characters and `/`.
const PYTHON_QUOTE: &AsciiSet = &UNRESERVED.remove(b'/');

/// The forms in which a value can appear in output: as is; base64 (standard and
/// URL-safe, without padding so that a padded form matches too) alone, wrapped
/// at 64 (PEM) and 76 (the `base64` tool, Python's `encodebytes`) columns, and
/// the part that stays the same inside a longer base64 text at each of the three
/// byte alignments (HTTP Basic auth's `user:value`); percent-encoded (every
/// reserved character, Python's `quote` keeping `/`, only `@`; upper- and
/// lower-case hex); form-encoded; and as a JSON string writes it (serde_json,
/// and Python's `json.dumps` with `\uXXXX` for non-ASCII; each also with `\/`).
/// Forms shorter than [`MIN_MASKED_BYTES`] are left out.
fn forms(value: &str) -> Vec<Vec<u8>> {
    let form: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    // A URL's userinfo written with only its `@` escaped.
    let only_at = value.replace('@', "%40").into_bytes();
    let mut forms = vec![value.as_bytes().to_vec(), form.into_bytes(), only_at];
    for set in [UNRESERVED, PYTHON_QUOTE] {
        let percent = utf8_percent_encode(value, set).to_string();
        forms.push(lowercase_hex(&percent));
        forms.push(percent.into_bytes());
    }
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        let alone = engine.encode(value);
        for width in [64, 76] {
            if alone.len() > width {
                forms.push(wrapped(&alone, width, "\n"));
                forms.push(wrapped(&alone, width, "\r\n"));
            }
        }
        forms.push(alone.into_bytes());
        forms.extend((0..3).map(|offset| base64_middle(engine, value.as_bytes(), offset)));
    }
    forms.extend(json_forms(value));
    forms.retain(|form| form.len() >= MIN_MASKED_BYTES);
    forms.sort();
    forms.dedup();
    forms
}

/// `encoded` with `line_break` after every `width` characters (not at the end).
fn wrapped(encoded: &str, width: usize, line_break: &str) -> Vec<u8> {
    let lines: Vec<&[u8]> = encoded.as_bytes().chunks(width).collect();
    lines.join(line_break.as_bytes())
}

/// The base64 characters that `value` alone decides when it starts `offset`
/// bytes (0, 1 or 2) into a 3-byte group of a longer text: whatever comes before
/// and after it, these characters are in the encoding.
fn base64_middle(engine: &impl Engine, value: &[u8], offset: usize) -> Vec<u8> {
    let mut shifted = vec![0u8; offset];
    shifted.extend_from_slice(value);
    let encoded = engine.encode(&shifted).into_bytes();
    // Character j holds bits 6j..6j+6 of the text: keep those within the value's
    // bits, 8 * offset .. 8 * (offset + len).
    let first = (8 * offset).div_ceil(6);
    let end = (8 * (offset + value.len())) / 6;
    encoded
        .get(first..end)
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

/// `value` as JSON writers put it inside a string's quotes, when that differs
/// from the value: serde_json's escaping (and JavaScript's `JSON.stringify`),
/// Python's `json.dumps` (non-ASCII as lower-case `\uXXXX`), each also with `/`
/// written `\/` (PHP, some loggers).
fn json_forms(value: &str) -> Vec<Vec<u8>> {
    let quoted = serde_json::to_string(value).unwrap_or_default();
    let plain = quoted
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or_default()
        .to_owned();
    let mut ascii = String::with_capacity(plain.len());
    for c in plain.chars() {
        if c.is_ascii() {
            ascii.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(ascii, "\\u{unit:04x}");
            }
        }
    }
    let mut forms = Vec::new();
    for form in [plain, ascii] {
        if form.contains('/') {
            forms.push(form.replace('/', "\\/").into_bytes());
        }
        if form != value {
            forms.push(form.into_bytes());
        }
    }
    forms
}

/// `percent` with the hex digits of its `%XX` escapes in lower case.
fn lowercase_hex(percent: &str) -> Vec<u8> {
    let mut bytes = percent.as_bytes().to_vec();
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            for digit in bytes.iter_mut().skip(index + 1).take(2) {
                digit.make_ascii_lowercase();
            }
            index += 3;
        } else {
            index += 1;
        }
    }
    bytes
}

impl Masker {
    /// A masker for `(name, value)` pairs; values shorter than
    /// [`MIN_MASKED_BYTES`] are left out.
    ///
    /// # Panics
    /// Never in practice: the automaton of a few KiB of patterns always builds.
    #[must_use]
    pub fn new(values: &[(String, SecretString)]) -> Self {
        let mut patterns: Vec<(Vec<u8>, Arc<[u8]>)> = Vec::new();
        for (name, value) in values {
            let value = value.expose_secret();
            if value.len() < MIN_MASKED_BYTES {
                continue;
            }
            let replacement: Arc<[u8]> = format!("[redacted:{name}]").into_bytes().into();
            for form in forms(value) {
                patterns.push((form, Arc::clone(&replacement)));
            }
        }
        // One replacement per distinct pattern (the first variable named wins).
        patterns.sort_by(|a, b| a.0.cmp(&b.0));
        patterns.dedup_by(|a, b| a.0 == b.0);
        let longest = patterns.iter().map(|(p, _)| p.len()).max().unwrap_or(0);
        let automaton = (!patterns.is_empty()).then(|| {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(patterns.iter().map(|(p, _)| p))
                .expect("patterns of a few KiB always build")
        });
        let replacements = patterns.iter().map(|(_, r)| Arc::clone(r)).collect();
        let sorted: Vec<Vec<u8>> = patterns.into_iter().map(|(p, _)| p).collect();
        let filter = GramFilter::new(&sorted);
        let mut first_pairs = vec![0u64; 65_536 / 64];
        let mut first_bytes = [0u64; 4];
        for pattern in &sorted {
            let first = usize::from(pattern[0]);
            first_bytes[first / 64] |= 1 << (first % 64);
            if let Some(&second) = pattern.get(1) {
                let pair = first * 256 + usize::from(second);
                first_pairs[pair / 64] |= 1 << (pair % 64);
            }
        }
        Self {
            automaton,
            replacements,
            sorted,
            longest,
            filter,
            first_pairs,
            first_bytes,
        }
    }

    /// The number of patterns searched for (every form of every value).
    #[must_use]
    pub fn pattern_count(&self) -> usize {
        self.sorted.len()
    }

    /// Every match in `haystack`, leftmost-longest, searched only around the
    /// positions the filter could not rule out.
    fn matches(&self, automaton: &AhoCorasick, haystack: &[u8]) -> Vec<aho_corasick::Match> {
        let mut found = Vec::new();
        if haystack.len() < 4 {
            return found;
        }
        let search = |from: usize, to: usize, found: &mut Vec<aho_corasick::Match>| {
            let input = aho_corasick::Input::new(haystack).span(from..to);
            for hit in automaton.find_iter(input) {
                if found
                    .last()
                    .is_none_or(|last: &aho_corasick::Match| hit.start() >= last.end())
                {
                    found.push(hit);
                }
            }
        };
        let mut window: Option<(usize, usize)> = None;
        for probe in (0..=haystack.len() - 4).step_by(self.filter.stride) {
            if !self.filter.hit(&haystack[probe..probe + 4]) {
                continue;
            }
            // Any value through `probe` lies within `longest` bytes of it.
            let from = probe.saturating_sub(self.longest);
            let to = (probe + self.longest).min(haystack.len());
            window = match window {
                Some((start, end)) if from <= end => Some((start, to.max(end))),
                Some((start, end)) => {
                    search(start, end, &mut found);
                    Some((from, to))
                }
                None => Some((from, to)),
            };
        }
        if let Some((start, end)) = window {
            search(start, end, &mut found);
        }
        found
    }

    /// The replacement of the first pattern that begins with `tail`.
    fn replacement_beginning(&self, tail: &[u8]) -> Arc<[u8]> {
        let at = self.sorted.partition_point(|p| p.as_slice() < tail);
        self.replacements
            .get(at)
            .filter(|_| self.sorted.get(at).is_some_and(|p| p.starts_with(tail)))
            .map_or_else(|| Arc::from(&b"[redacted]"[..]), Arc::clone)
    }

    /// Whether some pattern starts with `tail` and is longer than it.
    fn could_begin(&self, tail: &[u8]) -> bool {
        match *tail {
            [] => return !self.sorted.is_empty(),
            [first] => {
                let first = usize::from(first);
                if self.first_bytes[first / 64] & (1 << (first % 64)) == 0 {
                    return false;
                }
            }
            [first, second, ..] => {
                let pair = usize::from(first) * 256 + usize::from(second);
                if self.first_pairs[pair / 64] & (1 << (pair % 64)) == 0 {
                    return false;
                }
            }
        }
        let at = self.sorted.partition_point(|p| p.as_slice() < tail);
        self.sorted[at..]
            .iter()
            .take_while(|p| p.starts_with(tail))
            .any(|p| p.len() > tail.len())
    }
}

/// One output stream being masked.
#[derive(Debug, Default)]
pub struct MaskStream {
    held: Vec<u8>,
}

impl Drop for MaskStream {
    fn drop(&mut self) {
        self.held.zeroize();
    }
}

impl MaskStream {
    /// Masks `chunk` (after whatever was held back) into `out`, holding back a
    /// tail that could begin a value.
    pub fn push(&mut self, masker: &Masker, chunk: &[u8], out: &mut Vec<u8>) {
        let Some(automaton) = &masker.automaton else {
            out.append(&mut self.held);
            out.extend_from_slice(chunk);
            return;
        };
        // Most chunks follow nothing held: search them where they are.
        let mut joined = Vec::new();
        let buffer: &[u8] = if self.held.is_empty() {
            chunk
        } else {
            joined = std::mem::take(&mut self.held);
            joined.extend_from_slice(chunk);
            &joined
        };
        let mut written = 0;
        for found in masker.matches(automaton, buffer) {
            if masker.could_begin(&buffer[found.start()..]) {
                // A longer value may start here and continue in the next chunk:
                // hold from here, as for a prefix.
                break;
            }
            out.extend_from_slice(&buffer[written..found.start()]);
            out.extend_from_slice(&masker.replacements[found.pattern().as_usize()]);
            written = found.end();
        }
        let hold_from = Self::hold_from(masker, buffer, written);
        out.extend_from_slice(&buffer[written..hold_from]);
        self.held.extend_from_slice(&buffer[hold_from..]);
        joined.zeroize();
    }

    /// Flushes what was held back (the stream ended): matches in it are masked,
    /// and a tail of at least [`MIN_MASKED_BYTES`] that begins a value (the
    /// program died mid-value) is redacted too.
    pub fn finish(&mut self, masker: &Masker, out: &mut Vec<u8>) {
        let mut held = std::mem::take(&mut self.held);
        let Some(automaton) = &masker.automaton else {
            out.append(&mut held);
            return;
        };
        let mut written = 0;
        for found in automaton.find_iter(held.as_slice()) {
            out.extend_from_slice(&held[written..found.start()]);
            out.extend_from_slice(&masker.replacements[found.pattern().as_usize()]);
            written = found.end();
        }
        let tail_from = Self::hold_from(masker, &held, written);
        out.extend_from_slice(&held[written..tail_from]);
        let tail = &held[tail_from..];
        if tail.len() >= MIN_MASKED_BYTES {
            out.extend_from_slice(&masker.replacement_beginning(tail));
        } else {
            out.extend_from_slice(tail);
        }
        held.zeroize();
    }

    /// The start of the longest tail of `buffer[from..]` that could begin a value.
    fn hold_from(masker: &Masker, buffer: &[u8], from: usize) -> usize {
        let earliest = buffer
            .len()
            .saturating_sub(masker.longest.saturating_sub(1))
            .max(from);
        (earliest..buffer.len())
            .find(|&start| masker.could_begin(&buffer[start..]))
            .unwrap_or(buffer.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn masker(values: &[(&str, &str)]) -> Masker {
        let values: Vec<(String, SecretString)> = values
            .iter()
            .map(|(n, v)| ((*n).to_owned(), SecretString::from((*v).to_owned())))
            .collect();
        Masker::new(&values)
    }

    fn mask_chunks(masker: &Masker, chunks: &[&[u8]]) -> Vec<u8> {
        let mut stream = MaskStream::default();
        let mut out = Vec::new();
        for chunk in chunks {
            stream.push(masker, chunk, &mut out);
        }
        stream.finish(masker, &mut out);
        out
    }

    #[test]
    fn every_form_is_redacted() {
        let secret = "p@ss w/rd:42";
        let m = masker(&[("DB_PASSWORD", secret)]);
        let text = format!(
            "raw {secret} b64 {} url {} pct {} form {}\n",
            base64::engine::general_purpose::STANDARD.encode(secret),
            URL_SAFE_NO_PAD.encode(secret),
            utf8_percent_encode(secret, UNRESERVED),
            url::form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>(),
        );
        let out = String::from_utf8(mask_chunks(&m, &[text.as_bytes()])).unwrap();
        assert_eq!(out.matches("[redacted:DB_PASSWORD]").count(), 5, "{out}");
        assert!(!out.contains("ss w"), "{out}");
    }

    #[test]
    fn plain_output_passes_at_once() {
        let m = masker(&[("KEY", "zebra-crossing")]);
        let mut stream = MaskStream::default();
        let mut out = Vec::new();
        stream.push(&m, b"ready\n", &mut out);
        assert_eq!(out, b"ready\n");
        // A tail that could begin the value is held, and released when it does not.
        stream.push(&m, b"a zeb", &mut out);
        assert_eq!(out, b"ready\na ");
        stream.push(&m, b"ra!\n", &mut out);
        assert_eq!(out, b"ready\na zebra!\n");
    }

    #[test]
    fn short_values_are_not_masked() {
        let m = masker(&[("FLAG", "on")]);
        assert_eq!(m.pattern_count(), 0);
        assert_eq!(mask_chunks(&m, &[b"on and on"]), b"on and on");
    }

    /// `bytes` cut into writes at `cuts` (positions taken modulo its length).
    fn cut(bytes: &[u8], cuts: Vec<usize>) -> Vec<&[u8]> {
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut last = 0;
        for cut in cuts {
            chunks.push(&bytes[last..cut]);
            last = cut;
        }
        chunks.push(&bytes[last..]);
        chunks
    }

    /// A masker for `values`, named `V0`, `V1`, ...
    fn numbered_masker(values: &[String]) -> Masker {
        let named: Vec<(String, SecretString)> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("V{i}"), SecretString::from(v.clone())))
            .collect();
        Masker::new(&named)
    }

    /// The whole text masked at once: one search, with no filter and no cut
    /// (the end-of-stream rule applies to its end).
    fn reference(masker: &Masker, text: &[u8]) -> Vec<u8> {
        let mut whole = MaskStream {
            held: text.to_vec(),
        };
        let mut out = Vec::new();
        whole.finish(masker, &mut out);
        out
    }

    #[test]
    fn a_match_that_could_grow_into_a_longer_value_is_held() {
        let m = masker(&[("A", "abcdEFGH"), ("B", "abcdEFGHijklmnop")]);
        let out = mask_chunks(&m, &[b"x abcdEFGHij", b"klmnop\n"]);
        assert_eq!(String::from_utf8(out).unwrap(), "x [redacted:B]\n");
        let out = mask_chunks(&m, &[b"x abcdEFGHij", b"X\n"]);
        assert_eq!(String::from_utf8(out).unwrap(), "x [redacted:A]ijX\n");
    }

    #[test]
    fn encoded_forms_inside_longer_text_are_redacted() {
        use base64::engine::general_purpose::STANDARD;
        let secret = "s3cr3t-Value/with@chars é";
        let m = masker(&[("TOKEN", secret)]);
        let check = |text: String| {
            let out = String::from_utf8(mask_chunks(&m, &[text.as_bytes()])).unwrap();
            assert!(out.contains("[redacted:TOKEN]"), "{text:?} gave {out:?}");
            out
        };
        // HTTP Basic auth with user names of every length modulo 3.
        for user in ["a", "ab", "abc", "user"] {
            let header = STANDARD.encode(format!("{user}:{secret}"));
            let out = check(format!("Authorization: Basic {header}\n"));
            assert!(out.len() < 60, "{out}");
        }
        // base64 wrapped as the base64 tool and PEM write it.
        let long = format!("{secret}{secret}{secret}");
        let long_masker = masker(&[("LONG", &long)]);
        for width in [64, 76] {
            let encoded = STANDARD.encode(&long);
            let lines: Vec<&str> = encoded
                .as_bytes()
                .chunks(width)
                .map(|line| std::str::from_utf8(line).unwrap())
                .collect();
            let text = lines.join("\n");
            let out = String::from_utf8(mask_chunks(&long_masker, &[text.as_bytes()])).unwrap();
            assert!(out.contains("[redacted:LONG]"), "{out}");
            assert!(!out.contains(&lines[1][..8]), "{out}");
        }
        // Python's quote (keeps /), only @ encoded, and JSON strings.
        check(utf8_percent_encode(secret, PYTHON_QUOTE).to_string());
        check(secret.replace('@', "%40"));
        check(serde_json::to_string(secret).unwrap());
        check(r#""s3cr3t-Value\/with@chars \u00e9""#.to_owned());
        let quoted = masker(&[("Q", "pa\"ss\\wo\nrd")]);
        let text = serde_json::json!({ "password": "pa\"ss\\wo\nrd" }).to_string();
        let out = String::from_utf8(mask_chunks(&quoted, &[text.as_bytes()])).unwrap();
        assert_eq!(out, r#"{"password":"[redacted:Q]"}"#);
    }

    #[test]
    fn a_value_cut_off_at_the_end_is_redacted() {
        let m = masker(&[("KEY", "zebra-crossing")]);
        assert_eq!(mask_chunks(&m, &[b"a zebra-cr"]), b"a [redacted:KEY]");
        assert_eq!(mask_chunks(&m, &[b"a zeb"]), b"a zeb");
    }

    proptest! {
        /// Values that overlap and begin one another, over a four-letter alphabet:
        /// the filtered, streamed masking equals one search of the whole text,
        /// wherever the writes are cut.
        #[test]
        fn streaming_equals_one_search_of_the_whole_text(
            values in proptest::collection::vec("[a-d]{4,12}", 1..4),
            text in "[a-e]{0,300}",
            cuts in proptest::collection::vec(0usize..300, 0..8),
        ) {
            let m = numbered_masker(&values);
            let bytes = text.as_bytes();
            let chunks = cut(bytes, cuts);
            prop_assert_eq!(
                String::from_utf8(mask_chunks(&m, &chunks)).unwrap(),
                String::from_utf8(reference(&m, bytes)).unwrap()
            );
        }

        /// Values that are prefixes, extensions and substrings of one another:
        /// masking the stream, cut anywhere into writes, equals masking the
        /// whole text at once.
        #[test]
        fn streaming_equals_masking_at_once_for_values_that_nest(
            base in "[a-c]{4,10}",
            cut_at in 0usize..10,
            extension in "[a-c]{1,6}",
            text in proptest::collection::vec(proptest::sample::select(vec!["a", "b", "c", "x", "\n"]), 0..200),
            cuts in proptest::collection::vec(0usize..200, 0..8),
        ) {
            let prefix = &base[..base.len().min(4 + cut_at % (base.len() - 3))];
            let inner = &base[1..];
            let values = [prefix.to_owned(), base.clone(), format!("{base}{extension}"), inner.to_owned()];
            let m = numbered_masker(&values);
            let text: String = text.concat();
            let bytes = text.as_bytes();
            prop_assert_eq!(
                String::from_utf8(mask_chunks(&m, &cut(bytes, cuts))).unwrap(),
                String::from_utf8(reference(&m, bytes)).unwrap()
            );
        }

        /// Wherever the output is cut into writes, no form of a value survives,
        /// and output without values passes byte for byte.
        #[test]
        fn no_value_survives_any_split(
            secret in "[!-~]{4,40}",
            before in "[a-z \n]{0,30}",
            after in "[a-z \n]{0,30}",
            cuts in proptest::collection::vec(0usize..200, 0..6),
            encoded in 0usize..3,
        ) {
            let m = masker(&[("TOKEN", &secret)]);
            let shown = match encoded {
                0 => secret.clone(),
                1 => STANDARD_NO_PAD.encode(&secret),
                _ => utf8_percent_encode(&secret, UNRESERVED).to_string(),
            };
            let text = format!("{before}{shown}{after}");
            let bytes = text.as_bytes();
            let chunks = cut(bytes, cuts);
            let out = String::from_utf8_lossy(&mask_chunks(&m, &chunks)).into_owned();
            prop_assert!(!out.contains(&shown), "{out}");
            prop_assert!(out.contains("[redacted:TOKEN]"));
            let plain = format!("{before}{after}");
            prop_assert_eq!(mask_chunks(&m, &[plain.as_bytes()]).len(), plain.len());
        }
    }
}
