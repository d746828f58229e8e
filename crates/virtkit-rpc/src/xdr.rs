//! XDR (RFC 4506) as libvirt's RPC uses it: big-endian 4-byte units, strings and variable
//! opaque data with a length word and zero padding to a multiple of 4, optional data as a
//! boolean word followed by the value.
//!
//! Every length read from the wire is checked against the caller's bound *and* against the bytes
//! that remain before anything is allocated, so a hostile length costs nothing.

use crate::{Error, Result};

/// Writes XDR into a growing buffer.
#[derive(Debug, Default)]
pub struct Encoder {
    buf: Vec<u8>,
}

fn pad(len: usize) -> usize {
    (4 - len % 4) % 4
}

impl Encoder {
    /// An empty encoder.
    pub fn new() -> Encoder {
        Encoder::default()
    }

    /// An encoder that appends to `buf`.
    pub fn with_buffer(buf: Vec<u8>) -> Encoder {
        Encoder { buf }
    }

    /// The bytes written so far.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// The number of bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// `unsigned int`.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// `int`.
    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// `unsigned hyper`.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// `hyper`.
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// `bool` (one word, 0 or 1).
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.u32(u32::from(v))
    }

    /// Fixed-length `opaque[n]`: the bytes and their padding, no length word.
    pub fn opaque_fixed(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self.buf.extend(std::iter::repeat_n(0, pad(bytes.len())));
        self
    }

    /// Variable-length `opaque<>`: a length word, the bytes and their padding.
    ///
    /// # Panics
    ///
    /// When `bytes` is longer than `u32::MAX`, which no message can carry (callers check the
    /// message cap first).
    pub fn opaque(&mut self, bytes: &[u8]) -> &mut Self {
        let n = u32::try_from(bytes.len()).expect("XDR data longer than 4 GiB");
        self.u32(n).opaque_fixed(bytes)
    }

    /// `string<>` (UTF-8 here; XDR strings carry no terminator).
    pub fn string(&mut self, s: &str) -> &mut Self {
        self.opaque(s.as_bytes())
    }

    /// An optional string (`string *`): a boolean word, then the string when present.
    pub fn opt_string(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.bool(true).string(s),
            None => self.bool(false),
        }
    }

    /// rpcgen's `char x[n]` / `char x<n>` element: one character per 4-byte word.
    pub fn char_word(&mut self, c: u8) -> &mut Self {
        // rpcgen's xdr_char widens a (signed) char to an int.
        self.i32(i32::from(c as i8))
    }
}

/// Reads XDR from a byte slice.
#[derive(Debug)]
pub struct Decoder<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    /// A decoder over `data`.
    pub fn new(data: &'a [u8]) -> Decoder<'a> {
        Decoder { data, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Fails unless every byte was read (libvirt refuses trailing data too).
    pub fn finish(&self) -> Result<()> {
        if self.remaining() != 0 {
            return Err(Error::Malformed(format!(
                "{} unexpected bytes after the payload",
                self.remaining()
            )));
        }
        Ok(())
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(Error::Malformed(format!(
                "{what}: {n} bytes needed, {} left",
                self.remaining()
            )));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn word(&mut self) -> Result<[u8; 4]> {
        let b = self.take(4, "word")?;
        Ok([b[0], b[1], b[2], b[3]])
    }

    /// `unsigned int`.
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.word()?))
    }

    /// `int`.
    pub fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_be_bytes(self.word()?))
    }

    /// `unsigned hyper`.
    pub fn u64(&mut self) -> Result<u64> {
        let hi = u64::from(self.u32()?);
        let lo = u64::from(self.u32()?);
        Ok(hi << 32 | lo)
    }

    /// `hyper`.
    pub fn i64(&mut self) -> Result<i64> {
        Ok(self.u64()? as i64)
    }

    /// `bool`: only 0 and 1 are valid.
    pub fn bool(&mut self) -> Result<bool> {
        match self.u32()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(Error::Malformed(format!("boolean word is {v}, not 0 or 1"))),
        }
    }

    fn padding(&mut self, len: usize) -> Result<()> {
        let p = self.take(pad(len), "padding")?;
        if p.iter().any(|b| *b != 0) {
            return Err(Error::Malformed("non-zero padding".into()));
        }
        Ok(())
    }

    /// Fixed-length `opaque[N]`.
    pub fn opaque_fixed<const N: usize>(&mut self) -> Result<[u8; N]> {
        let b = self.take(N, "fixed opaque")?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        self.padding(N)?;
        Ok(out)
    }

    /// Variable-length `opaque<max>`.
    pub fn opaque(&mut self, max: usize) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        if n > max {
            return Err(Error::Malformed(format!(
                "opaque data of {n} bytes is longer than its limit of {max}"
            )));
        }
        let b = self.take(n, "opaque data")?;
        self.padding(n)?;
        Ok(b)
    }

    /// `string<max>`, which must be UTF-8 without NUL bytes.
    pub fn string(&mut self, max: usize) -> Result<String> {
        let b = self.opaque(max)?;
        if b.contains(&0) {
            return Err(Error::Malformed("string contains a NUL byte".into()));
        }
        std::str::from_utf8(b)
            .map(str::to_string)
            .map_err(|_| Error::Malformed("string is not UTF-8".into()))
    }

    /// An optional string (`string *`).
    pub fn opt_string(&mut self, max: usize) -> Result<Option<String>> {
        if self.bool()? {
            Ok(Some(self.string(max)?))
        } else {
            Ok(None)
        }
    }

    /// The length word of an array of at most `max` elements, each at least `min_elem_size`
    /// bytes on the wire (checked against what remains, before the caller allocates).
    pub fn array_len(&mut self, max: usize, min_elem_size: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        if n > max {
            return Err(Error::Malformed(format!(
                "array of {n} elements is longer than its limit of {max}"
            )));
        }
        if n.saturating_mul(min_elem_size.max(1)) > self.remaining() {
            return Err(Error::Malformed(format!(
                "array of {n} elements does not fit in the {} bytes left",
                self.remaining()
            )));
        }
        Ok(n)
    }

    /// rpcgen's `char` element: one character per 4-byte word.
    pub fn char_word(&mut self) -> Result<u8> {
        let v = self.i32()?;
        i8::try_from(v)
            .map(|c| c as u8)
            .map_err(|_| Error::Malformed(format!("character word {v} is out of range")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_kind() {
        let mut e = Encoder::new();
        e.u32(7)
            .i32(-2)
            .u64(1 << 40)
            .i64(-5)
            .bool(true)
            .string("héllo")
            .opt_string(None)
            .opt_string(Some(""))
            .opaque_fixed(&[1, 2, 3])
            .opaque(&[9; 5])
            .char_word(b'x');
        let bytes = e.into_bytes();
        assert_eq!(bytes.len() % 4, 0);
        let mut d = Decoder::new(&bytes);
        assert_eq!(d.u32().unwrap(), 7);
        assert_eq!(d.i32().unwrap(), -2);
        assert_eq!(d.u64().unwrap(), 1 << 40);
        assert_eq!(d.i64().unwrap(), -5);
        assert!(d.bool().unwrap());
        assert_eq!(d.string(100).unwrap(), "héllo");
        assert_eq!(d.opt_string(100).unwrap(), None);
        assert_eq!(d.opt_string(100).unwrap(), Some(String::new()));
        assert_eq!(d.opaque_fixed::<3>().unwrap(), [1, 2, 3]);
        assert_eq!(d.opaque(5).unwrap(), &[9; 5]);
        assert_eq!(d.char_word().unwrap(), b'x');
        d.finish().unwrap();
    }

    #[test]
    fn the_wire_form_is_rfc_4506() {
        let mut e = Encoder::new();
        e.string("abcde");
        assert_eq!(e.into_bytes(), b"\0\0\0\x05abcde\0\0\0");
    }

    #[test]
    fn hostile_lengths_are_refused_before_allocating() {
        let huge = [0xff, 0xff, 0xff, 0xf0];
        assert!(Decoder::new(&huge).string(usize::MAX).is_err());
        assert!(Decoder::new(&huge).array_len(usize::MAX, 4).is_err());
        let long = {
            let mut e = Encoder::new();
            e.string("abcdef");
            e.into_bytes()
        };
        let err = Decoder::new(&long).string(5).unwrap_err();
        assert!(err.to_string().contains("limit of 5"), "{err}");
    }

    #[test]
    fn bad_padding_booleans_and_text_are_refused() {
        assert!(Decoder::new(b"\0\0\0\x01a\0\0\x01").string(10).is_err());
        assert!(Decoder::new(b"\0\0\0\x02").bool().is_err());
        assert!(Decoder::new(b"\0\0\0\x01\xff\0\0\0").string(10).is_err());
        assert!(Decoder::new(b"\0\0\0\x01\0\0\0\0").string(10).is_err());
        let d = Decoder::new(b"\0\0\0\0");
        assert!(d.finish().is_err());
    }
}
