//! Parsers for the scalar values the formats use: UUIDs, MAC addresses, scaled sizes, integers.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use crate::error::Result;
use crate::tree::Element;

/// Parses a UUID the way libvirt does: 32 hex digits in either case, with `-` allowed between
/// any two bytes and surrounding whitespace ignored. Both `4dea22b31d52d8f32516782e98ab3fa0`
/// and `4DEA22B3-1D52-D8F3-2516-782E98AB3FA0` are accepted.
pub fn parse_uuid(s: &str) -> Option<Uuid> {
    let mut bytes = [0u8; 16];
    let mut digits = s.trim().chars().filter(|&c| c != '-');
    // Dashes are allowed only between bytes: check that no dash splits a pair.
    let trimmed = s.trim();
    let mut hex_seen = 0usize;
    for c in trimmed.chars() {
        if c == '-' {
            if !hex_seen.is_multiple_of(2) {
                return None;
            }
        } else {
            hex_seen += 1;
        }
    }
    for b in &mut bytes {
        let hi = digits.next()?.to_digit(16)?;
        let lo = digits.next()?.to_digit(16)?;
        *b = u8::try_from(hi * 16 + lo).ok()?;
    }
    if digits.next().is_some() {
        return None;
    }
    Some(Uuid::from_bytes(bytes))
}

/// A 48-bit Ethernet MAC address, printed as six lower-case hex pairs joined by `:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// The error of [`MacAddr::from_str`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid MAC address '{0}'")]
pub struct MacAddrParseError(String);

impl FromStr for MacAddr {
    type Err = MacAddrParseError;

    /// Six groups of one or two hex digits separated by `:`, in either case.
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let err = || MacAddrParseError(s.to_owned());
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for b in &mut out {
            let part = parts.next().ok_or_else(err)?;
            if part.is_empty() || part.len() > 2 || !part.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(err());
            }
            *b = u8::from_str_radix(part, 16).map_err(|_| err())?;
        }
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(MacAddr(out))
    }
}

/// Multiplier in bytes for one of libvirt's size units (`b`, `bytes`, `KB`, `k`, `KiB`, `MB`,
/// `M`, `MiB`, ... up to `E`/`EiB`), matched case-insensitively as libvirt does.
pub(crate) fn unit_multiplier(unit: &str) -> Option<u64> {
    let lower = unit.to_ascii_lowercase();
    if lower == "b" || lower == "bytes" {
        return Some(1);
    }
    let mut chars = lower.chars();
    let prefix = chars.next()?;
    let rest: &str = chars.as_str();
    let base: u64 = match rest {
        "" | "ib" => 1024,
        "b" => 1000,
        _ => return None,
    };
    let power = match prefix {
        'k' => 1,
        'm' => 2,
        'g' => 3,
        't' => 4,
        'p' => 5,
        'e' => 6,
        _ => return None,
    };
    base.checked_pow(power)
}

/// Reads a scaled size from an element's text and `unit` attribute and returns it in KiB
/// (rounded up, as libvirt does). `default_multiplier` applies when there is no unit.
pub(crate) fn scaled_kib(el: &Element, default_multiplier: u64) -> Result<u64> {
    let bytes = scaled_bytes(el, default_multiplier)?;
    bytes_to_kib(bytes)
        .ok_or_else(|| el.error(format!("<{}> value {} overflows", el.name, el.text.trim())))
}

/// Bytes to KiB, rounded up. `None` when the result could not be written back in KiB and read
/// again as bytes without overflow.
pub(crate) fn bytes_to_kib(bytes: u64) -> Option<u64> {
    Some(bytes.div_ceil(1024)).filter(|&k| k <= u64::MAX / 1024)
}

/// Reads a scaled size in bytes from an element's text and `unit` attribute.
pub(crate) fn scaled_bytes(el: &Element, default_multiplier: u64) -> Result<u64> {
    let text = el.trimmed_text()?;
    let value: u64 = parse_decimal_u64(text).ok_or_else(|| {
        el.error(format!(
            "Invalid <{}> value '{text}': expected a non-negative integer",
            el.name
        ))
    })?;
    let multiplier = match el.attr("unit") {
        None => default_multiplier,
        Some(u) => unit_multiplier(u.trim()).ok_or_else(|| {
            el.bad_attr(
                "unit",
                u,
                "a size unit such as b, KiB, MiB, GiB, TiB (or k, M, G, T)",
            )
        })?,
    };
    value
        .checked_mul(multiplier)
        .ok_or_else(|| el.error(format!("<{}> value {text} overflows", el.name)))
}

/// Decimal digits only (no sign, no spaces).
pub(crate) fn parse_decimal_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Decimal digits only, as u32.
pub(crate) fn parse_u32(s: &str) -> Option<u32> {
    parse_decimal_u64(s).and_then(|v| u32::try_from(v).ok())
}

/// An optional leading `-`, then decimal digits.
pub(crate) fn parse_i32(s: &str) -> Option<i32> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `0x`-prefixed hex or plain decimal.
pub(crate) fn parse_hex_or_dec(s: &str) -> Option<u32> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) if !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
            u32::from_str_radix(h, 16).ok()
        }
        Some(_) => None,
        None => parse_u32(s),
    }
}

pub(crate) fn parse_yes_no(s: &str) -> Option<bool> {
    match s {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

pub(crate) fn parse_on_off(s: &str) -> Option<bool> {
    match s {
        "on" => Some(true),
        "off" => Some(false),
        _ => None,
    }
}

pub(crate) fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

pub(crate) fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

/// Declares a closed set of XML keywords as an enum with `as_str`, `from_name` and `NAMES`.
macro_rules! keyword_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $( $(#[$vmeta])* $variant ),+ }

        impl $name {
            /// Every keyword of this set, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            /// The XML keyword.
            pub fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $text ),+ }
            }

            /// Looks up an XML keyword (case-sensitive).
            pub fn from_name(s: &str) -> Option<Self> {
                match s { $( $text => Some($name::$variant), )+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use keyword_enum;

/// Parses a keyword attribute, giving an error that lists the allowed values.
pub(crate) fn keyword_attr<T>(
    el: &Element,
    name: &str,
    names: &[&str],
    from_name: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>> {
    match el.attr(name) {
        None => Ok(None),
        Some(v) => from_name(v.trim())
            .map(Some)
            .ok_or_else(|| el.bad_attr(name, v, &format!("one of {}", names.join(", ")))),
    }
}

/// Parses the text of a keyword element.
pub(crate) fn keyword_text<T>(
    el: &Element,
    names: &[&str],
    from_name: impl Fn(&str) -> Option<T>,
) -> Result<T> {
    let t = el.trimmed_text()?;
    from_name(t).ok_or_else(|| {
        el.error(format!(
            "Invalid <{}> value '{t}': expected one of {}",
            el.name,
            names.join(", ")
        ))
    })
}

/// Checks a domain or network name: not empty, no `/`.
pub(crate) fn check_name(el: &Element, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(el.error("Empty name"));
    }
    if name.contains('/') {
        return Err(el.error(format!(
            "Invalid name '{name}': a name must not contain '/'"
        )));
    }
    Ok(())
}

/// Reads a `<uuid>` element.
pub(crate) fn uuid_element(el: &Element) -> Result<Uuid> {
    let t = el.trimmed_text()?;
    parse_uuid(t).ok_or_else(|| {
        el.error(format!(
            "Invalid UUID '{t}': expected 32 hex digits, optionally in 8-4-4-4-12 form"
        ))
    })
}

/// Reads a MAC address attribute.
pub(crate) fn mac_attr(el: &Element, name: &str) -> Result<MacAddr> {
    let v = el.required_attr(name)?;
    v.trim().parse().map_err(|_| {
        el.bad_attr(
            name,
            v,
            "a MAC address of six hex pairs such as 52:54:00:12:34:56",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_forms() {
        let want = Uuid::parse_str("ef861801-45b9-11cb-88e3-afbfe5370493").unwrap();
        assert_eq!(parse_uuid("EF86180145B911CB88E3AFBFE5370493"), Some(want));
        assert_eq!(
            parse_uuid("ef861801-45b9-11cb-88e3-afbfe5370493"),
            Some(want)
        );
        assert_eq!(
            parse_uuid("  ef86180145b911cb88e3afbfe5370493\n"),
            Some(want)
        );
        assert_eq!(parse_uuid("ef861801-45b9-11cb-88e3-afbfe537049"), None);
        assert_eq!(parse_uuid("ef861801-45b9-11cb-88e3-afbfe53704933"), None);
        assert_eq!(parse_uuid("ef86180-145b9-11cb-88e3-afbfe5370493"), None);
        assert_eq!(parse_uuid("zf861801-45b9-11cb-88e3-afbfe5370493"), None);
        assert_eq!(parse_uuid(""), None);
    }

    #[test]
    fn mac_forms() {
        let m: MacAddr = "AA:0:86:e2:35:72".parse().unwrap();
        assert_eq!(m.to_string(), "aa:00:86:e2:35:72");
        for bad in [
            "",
            "aa:bb:cc:dd:ee",
            "aa:bb:cc:dd:ee:ff:00",
            "aa:bb:cc:dd:ee:fg",
            "aaa:bb:cc:dd:ee:ff",
            "aa-bb-cc-dd-ee-ff",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn units() {
        assert_eq!(unit_multiplier("KiB"), Some(1024));
        assert_eq!(unit_multiplier("k"), Some(1024));
        assert_eq!(unit_multiplier("KB"), Some(1000));
        assert_eq!(unit_multiplier("b"), Some(1));
        assert_eq!(unit_multiplier("bytes"), Some(1));
        assert_eq!(unit_multiplier("M"), Some(1 << 20));
        assert_eq!(unit_multiplier("GiB"), Some(1 << 30));
        assert_eq!(unit_multiplier("EiB"), Some(1 << 60));
        assert_eq!(unit_multiplier("x"), None);
        assert_eq!(unit_multiplier(""), None);
        assert_eq!(unit_multiplier("KiBB"), None);
    }

    #[test]
    fn integers() {
        assert_eq!(parse_i32("-1"), Some(-1));
        assert_eq!(parse_i32("+1"), None);
        assert_eq!(parse_i32("-"), None);
        assert_eq!(parse_u32("4294967296"), None);
        assert_eq!(parse_hex_or_dec("0x0204"), Some(0x204));
        assert_eq!(parse_hex_or_dec("14"), Some(14));
        assert_eq!(parse_hex_or_dec("0x"), None);
    }
}
