//! `url` and `email` values judged as Django judges them (`URLValidator` and
//! `validate_email` of Django 5.2), on the text as written: no parser repairs a
//! value before it is judged, so the program receives exactly what passed.
//!
//! Where containers need more than Django's web-facing rules, envgate differs on
//! purpose, and docs/DECISIONS.md ("URLs and e-mail addresses") lists each case:
//! single-label hosts (`redis`, `db`, `mailhog`) that are not numbers, `_` in a
//! host label, `redis://:password@host`, an empty host for schemes that are not
//! web schemes (`sqlite:///app.db`), ports above 65535 refused, control
//! characters refused, and IDNA for non-ASCII labels. The differential test in
//! tests/cli/reference.rs holds the rest to Django's own validators.
//!
//! Every reason says what is wrong without quoting the value.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::is_python_whitespace;

/// The longest URL Django accepts (its `MAX_URL_LENGTH`).
const MAX_URL_CHARS: usize = 2048;
/// The longest e-mail address (RFC 3696 section 3, as Django).
const MAX_EMAIL_CHARS: usize = 320;
/// The longest host name (RFC 1034 section 3.1).
const MAX_HOST_CHARS: usize = 253;
/// The longest label.
const MAX_LABEL_CHARS: usize = 63;
/// Schemes whose URLs need a host: `http:///x` names no server.
const WEB_SCHEMES: &[&str] = &["http", "https", "ftp", "ftps", "ws", "wss"];

/// Checks a URL; returns its scheme (lowercase) for the `schemes` rule.
///
/// # Errors
/// Why the text is not a URL, in words that never repeat it.
pub fn check_url(value: &str) -> Result<String, &'static str> {
    if value.chars().count() > MAX_URL_CHARS {
        return Err("it is longer than 2048 characters");
    }
    if value.chars().any(is_python_whitespace) {
        return Err("it contains whitespace (encode a space as %20)");
    }
    if value.chars().any(char::is_control) {
        return Err("it contains a control character");
    }
    let Some((scheme, rest)) = value.split_once("://") else {
        return Err("it has no `scheme://`");
    };
    if !is_scheme(scheme) {
        return Err("its scheme is not letters, digits, `+`, `-` or `.` after a letter");
    }
    let scheme = scheme.to_ascii_lowercase();
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    if authority.is_empty() {
        if WEB_SCHEMES.contains(&scheme.as_str()) {
            return Err("it has no host");
        }
        return Ok(scheme);
    }
    let host_and_port = match authority.rsplit_once('@') {
        Some((userinfo, host_and_port)) => {
            check_userinfo(userinfo)?;
            host_and_port
        }
        None => authority,
    };
    let host = check_port(host_and_port)?;
    if host.is_empty() {
        return Err("it has no host");
    }
    check_url_host(host)?;
    Ok(scheme)
}

/// RFC 3986: a letter, then letters, digits, `+`, `-`, `.`.
fn is_scheme(scheme: &str) -> bool {
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// `user`, `user:password` or (for Redis) `:password`: no further `:` or `@`.
fn check_userinfo(userinfo: &str) -> Result<(), &'static str> {
    if userinfo.contains('@') {
        return Err("it has more than one `@` before the host (encode `@` in a password as %40)");
    }
    let (user, password) = match userinfo.split_once(':') {
        Some((user, password)) => (user, Some(password)),
        None => (userinfo, None),
    };
    if password.is_some_and(|password| password.contains(':')) {
        return Err("its user information has more than one `:` (encode `:` in a password as %3A)");
    }
    match (user.is_empty(), password) {
        (false, _) => Ok(()),
        (true, Some(password)) if !password.is_empty() => Ok(()),
        _ => Err("it has an `@` with no user name or password before it"),
    }
}

/// Splits off and checks `:port` (1 to 5 digits, at most 65535); returns the host.
fn check_port(host_and_port: &str) -> Result<&str, &'static str> {
    let port_at = if host_and_port.starts_with('[') {
        host_and_port.find(']').map(|close| close + 1)
    } else {
        host_and_port.find(':')
    };
    let Some(port_at) = port_at.filter(|&at| at < host_and_port.len()) else {
        return Ok(host_and_port);
    };
    let (host, port) = host_and_port.split_at(port_at);
    let Some(digits) = port.strip_prefix(':') else {
        return Err("it has text after the bracketed address");
    };
    if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("its port is not a number of 1 to 5 digits");
    }
    if digits.parse::<u32>().is_ok_and(|port| port > 65_535) {
        return Err("its port is above 65535");
    }
    Ok(host)
}

/// A URL's host: `[IPv6]`, dotted-decimal IPv4, or a name.
fn check_url_host(host: &str) -> Result<(), &'static str> {
    if let Some(inner) = host.strip_prefix('[') {
        let address = inner
            .strip_suffix(']')
            .ok_or("its `[` address is not closed")?;
        return if is_ipv6(address) {
            Ok(())
        } else {
            Err("its bracketed host is not an IPv6 address")
        };
    }
    if is_ipv4(host) {
        return Ok(());
    }
    check_name(host, true)
}

/// Checks an e-mail address as Django's `validate_email` does.
///
/// # Errors
/// Why it is not an address, in words that never repeat it.
pub fn check_email(value: &str) -> Result<(), &'static str> {
    if value.chars().count() > MAX_EMAIL_CHARS {
        return Err("it is longer than 320 characters");
    }
    let Some((local, domain)) = value.rsplit_once('@') else {
        return Err("it has no `@`");
    };
    check_local_part(local)?;
    if let Some(inner) = domain.strip_prefix('[') {
        let address = inner
            .strip_suffix(']')
            .ok_or("its `[` address literal is not closed")?;
        return if is_ipv4(address) || is_ipv6(address) {
            Ok(())
        } else {
            Err("its address literal is not an IPv4 or IPv6 address")
        };
    }
    check_name(domain, false)
}

/// The part before `@`: dot-separated atoms of RFC 5322 `atext`, or a quoted string.
fn check_local_part(local: &str) -> Result<(), &'static str> {
    if let Some(inner) = local.strip_prefix('"') {
        let inner = inner
            .strip_suffix('"')
            .ok_or("its quoted local part is not closed")?;
        return if is_quoted_content(inner) {
            Ok(())
        } else {
            Err("its quoted local part holds a character that must be escaped")
        };
    }
    if local.is_empty() {
        return Err("it has nothing before the `@`");
    }
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    if local.split('.').any(str::is_empty) {
        return Err("its local part starts or ends with a dot, or has two in a row");
    }
    if !local.chars().all(|c| c == '.' || atext(c)) {
        return Err(
            "its local part has a character that needs quoting (letters, digits and !#$%&'*+-/=?^_`{|}~ only)",
        );
    }
    Ok(())
}

/// A quoted string's content (RFC 5322 `qcontent`, as Django reads it): printable
/// ASCII but `"` and `\`, or a backslash pair.
fn is_quoted_content(inner: &str) -> bool {
    let plain = |c: char| matches!(c, '\u{1}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '!' | '#'..='[' | ']'..='\u{7f}');
    let escapable =
        |c: char| matches!(c, '\u{1}'..='\u{9}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{7f}');
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        let fine = if c == '\\' {
            chars.next().is_some_and(escapable)
        } else {
            plain(c)
        };
        if !fine {
            return false;
        }
    }
    true
}

/// A host name: dot-separated labels of letters, digits, `-` (not at either end),
/// `_`, and non-ASCII letters that IDNA accepts; a final label of letters (or an
/// `xn--` label) unless the name is a single label, which must not read as a
/// number. `trailing_dot`: whether `name.` is allowed (URLs yes, e-mail no).
fn check_name(name: &str, trailing_dot: bool) -> Result<(), &'static str> {
    let bare = match name.strip_suffix('.') {
        Some(bare) if trailing_dot && !bare.is_empty() => bare,
        _ => name,
    };
    if name.chars().count() > MAX_HOST_CHARS {
        return Err("its host name is longer than 253 characters");
    }
    let labels: Vec<&str> = bare.split('.').collect();
    for label in &labels {
        check_label(label)?;
    }
    match labels.as_slice() {
        [single] if is_numeric_label(single) => {
            Err("its host is a number, which URL parsers read as an IPv4 address")
        }
        [_] => Ok(()),
        [.., last] => check_top_level(last),
        [] => Err("it has no host"),
    }
}

fn check_label(label: &str) -> Result<(), &'static str> {
    if label.is_empty() {
        return Err("its host name has an empty label (two dots in a row, or a dot at an end)");
    }
    if label.chars().count() > MAX_LABEL_CHARS {
        return Err("its host name has a label longer than 63 characters");
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err("its host name has a label that starts or ends with `-`");
    }
    let ascii = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if label.chars().all(ascii) {
        return Ok(());
    }
    if !label
        .chars()
        .all(|c| ascii(c) || ('\u{a1}'..='\u{ffff}').contains(&c))
    {
        return Err("its host name has a character that is not a letter, digit, `-` or `_`");
    }
    if !is_idna_label(label) {
        return Err("its host name has a non-ASCII label that IDNA does not accept");
    }
    Ok(())
}

/// Whether a non-ASCII label has an IDNA (UTS 46) form of at most 63 characters.
fn is_idna_label(label: &str) -> bool {
    idna::domain_to_ascii(label).is_ok_and(|ascii| {
        !ascii.contains('.') && !ascii.is_empty() && ascii.len() <= MAX_LABEL_CHARS
    })
}

/// The last label of a name with several: at least two letters (or hyphens
/// inside), or an `xn--` label of letters and digits.
fn check_top_level(label: &str) -> Result<(), &'static str> {
    let lower = label.to_ascii_lowercase();
    if let Some(puny) = lower.strip_prefix("xn--")
        && !puny.is_empty()
        && puny.len() <= 59
        && puny.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Ok(());
    }
    let letters = label
        .chars()
        .all(|c| c.is_ascii_alphabetic() || c == '-' || u32::from(c) >= 0xa1);
    if label.chars().count() >= 2 && letters {
        Ok(())
    } else {
        Err("its top-level domain is not at least two letters")
    }
}

/// What WHATWG URL parsers read as an IPv4 number: digits, or `0x` and hex digits.
fn is_numeric_label(label: &str) -> bool {
    let hex = label
        .strip_prefix("0x")
        .or_else(|| label.strip_prefix("0X"));
    match hex {
        Some(digits) => digits.bytes().all(|b| b.is_ascii_hexdigit()),
        None => label.bytes().all(|b| b.is_ascii_digit()),
    }
}

/// Dotted decimal, four parts, no leading zeros.
fn is_ipv4(text: &str) -> bool {
    text.parse::<Ipv4Addr>().is_ok()
        && text
            .split('.')
            .all(|part| part == "0" || !part.starts_with('0'))
}

/// An IPv6 address as Python's `ipaddress` reads it (no zone, at most 39 characters).
fn is_ipv6(text: &str) -> bool {
    text.len() <= 39 && text.parse::<Ipv6Addr>().is_ok()
}
