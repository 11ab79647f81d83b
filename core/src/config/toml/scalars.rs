//! TOML's scalar shapes that are not strings: integers (decimal, hex, octal, binary, with
//! underscores), floats and date-times, checked as TOML 1.1 writes them. Only integers keep their
//! value; the config needs no float or date.

use super::Val;

/// Digits of `radix` with single underscores between them, as an i64 (negated if `negative`);
/// `None` if malformed or out of range.
pub(crate) fn integer(digits: &[u8], radix: u32, negative: bool) -> Option<i64> {
    if digits.first() == Some(&b'_')
        || digits.last() == Some(&b'_')
        || digits.windows(2).any(|w| w == b"__")
    {
        return None;
    }
    let mut n: i64 = 0;
    let mut any = false;
    for &c in digits.iter().filter(|&&c| c != b'_') {
        let d = i64::from((c as char).to_digit(radix)?);
        n = n.checked_mul(i64::from(radix))?;
        n = if negative {
            n.checked_sub(d)?
        } else {
            n.checked_add(d)?
        };
        any = true;
    }
    any.then_some(n)
}

/// An integer (decimal, or 0x/0o/0b) or a float, as TOML writes them.
pub(super) fn number(t: &[u8]) -> Option<Val> {
    if matches!(t, b"inf" | b"+inf" | b"-inf" | b"nan" | b"+nan" | b"-nan") {
        return Some(Val::Float);
    }
    if let [b'0', prefix @ (b'x' | b'o' | b'b'), digits @ ..] = t {
        let radix = match prefix {
            b'x' => 16,
            b'o' => 8,
            _ => 2,
        };
        return integer(digits, radix, false).map(Val::Int);
    }
    let (negative, body) = match t {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, t),
    };
    let int_end = body
        .iter()
        .position(|c| matches!(c, b'.' | b'e' | b'E'))
        .unwrap_or(body.len());
    let (int, mut rest) = body.split_at(int_end);
    // No leading zeros; only ASCII digits and underscores in every part.
    if (int.len() > 1 && int[0] == b'0') || !int.iter().all(|c| c.is_ascii_digit() || *c == b'_') {
        return None;
    }
    if rest.is_empty() {
        return integer(int, 10, negative).map(Val::Int);
    }
    let well_formed =
        |d: &[u8]| integer_shape(d) && d.iter().all(|c| c.is_ascii_digit() || *c == b'_');
    if !well_formed(int) {
        return None;
    }
    if let [b'.', after @ ..] = rest {
        let end = after
            .iter()
            .position(|c| matches!(c, b'e' | b'E'))
            .unwrap_or(after.len());
        if !well_formed(&after[..end]) {
            return None;
        }
        rest = &after[end..];
    }
    if let [b'e' | b'E', exp @ ..] = rest {
        let exp = match exp {
            [b'+' | b'-', e @ ..] => e,
            e => e,
        };
        if !well_formed(exp) {
            return None;
        }
    } else if !rest.is_empty() {
        return None;
    }
    Some(Val::Float)
}

/// Non-empty digits with single underscores between them (any length).
fn integer_shape(d: &[u8]) -> bool {
    !d.is_empty() && d[0] != b'_' && d[d.len() - 1] != b'_' && !d.windows(2).any(|w| w == b"__")
}

/// `YYYY-MM-DD`, `HH:MM[:SS[.frac]]`, or a date, `T`/`t`/space, a time and an optional
/// `Z`/`±HH:MM` offset (TOML 1.1 lets the seconds go).
pub(super) fn is_datetime(t: &[u8]) -> bool {
    let num = |from: usize, len: usize| -> Option<u32> {
        t.get(from..from + len)?.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let at = |i: usize| t.get(i).copied();
    let check = || -> Option<bool> {
        let mut p = 0;
        let has_date = at(4) == Some(b'-');
        if has_date {
            let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
            if at(7) != Some(b'-') || !(1..=12).contains(&month) {
                return None;
            }
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
            let days = match month {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            if day == 0 || day > days {
                return None;
            }
            if t.len() == 10 {
                return Some(true);
            }
            if !matches!(at(10), Some(b'T' | b't' | b' ')) {
                return None;
            }
            p = 11;
        }
        let (hour, minute) = (num(p, 2)?, num(p + 3, 2)?);
        if at(p + 2) != Some(b':') || hour > 23 || minute > 59 {
            return None;
        }
        p += 5;
        if at(p) == Some(b':') {
            if num(p + 1, 2)? > 60 {
                return None;
            }
            p += 3;
            if at(p) == Some(b'.') {
                let frac = t[p + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                if frac == 0 {
                    return None;
                }
                p += 1 + frac;
            }
        }
        if !has_date {
            return Some(p == t.len());
        }
        Some(match at(p) {
            None => true,
            Some(b'Z' | b'z') => p + 1 == t.len(),
            Some(b'+' | b'-') => {
                at(p + 3) == Some(b':')
                    && num(p + 1, 2)? <= 23
                    && num(p + 4, 2)? <= 59
                    && p + 6 == t.len()
            }
            _ => false,
        })
    };
    check() == Some(true)
}
