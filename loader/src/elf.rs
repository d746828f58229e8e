//! A sanity check of a plugin file before `dlopen`.
//!
//! The dynamic linker maps a file's segments as its program headers describe them. A truncated
//! file whose segments extend past its end gets mapped anyway, and the first touch of the missing
//! pages kills the whole process with SIGBUS. So before `dlopen` the loader reads the ELF header
//! and program headers and refuses any file whose loadable segments do not fit in it.

use std::io::Read;

const PT_LOAD: u32 = 1;

fn u16_at(b: &[u8], off: usize, le: bool) -> Option<u64> {
    let s: [u8; 2] = b.get(off..off + 2)?.try_into().ok()?;
    Some(if le {
        u16::from_le_bytes(s)
    } else {
        u16::from_be_bytes(s)
    } as u64)
}
fn u32_at(b: &[u8], off: usize, le: bool) -> Option<u64> {
    let s: [u8; 4] = b.get(off..off + 4)?.try_into().ok()?;
    Some(if le {
        u32::from_le_bytes(s)
    } else {
        u32::from_be_bytes(s)
    } as u64)
}
fn u64_at(b: &[u8], off: usize, le: bool) -> Option<u64> {
    let s: [u8; 8] = b.get(off..off + 8)?.try_into().ok()?;
    Some(if le {
        u64::from_le_bytes(s)
    } else {
        u64::from_be_bytes(s)
    })
}

/// Checks that the open file `f` is an ELF shared object whose loadable segments lie inside
/// the file.
pub(crate) fn check(f: &mut std::fs::File) -> Result<(), String> {
    let len = f.metadata().map_err(|e| format!("cannot stat: {e}"))?.len();
    let mut head = vec![0u8; 64];
    let n = f.read(&mut head).map_err(|e| format!("cannot read: {e}"))?;
    head.truncate(n);
    if head.len() < 16 || &head[..4] != b"\x7fELF" {
        return Err("not an ELF file".into());
    }
    let is64 = match head[4] {
        1 => false,
        2 => true,
        c => return Err(format!("unknown ELF class {c}")),
    };
    let le = match head[5] {
        1 => true,
        2 => false,
        d => return Err(format!("unknown ELF data encoding {d}")),
    };
    let short = || "truncated ELF header".to_string();
    let (phoff, phentsize, phnum) = if is64 {
        (
            u64_at(&head, 32, le).ok_or_else(short)?,
            u16_at(&head, 54, le).ok_or_else(short)?,
            u16_at(&head, 56, le).ok_or_else(short)?,
        )
    } else {
        (
            u32_at(&head, 28, le).ok_or_else(short)?,
            u16_at(&head, 42, le).ok_or_else(short)?,
            u16_at(&head, 44, le).ok_or_else(short)?,
        )
    };
    let table_end = phoff
        .checked_add(phentsize.saturating_mul(phnum))
        .ok_or("bad program header table")?;
    if phnum == 0 || table_end > len {
        return Err(format!(
            "truncated file: the program headers end at byte {table_end}, the file has {len}"
        ));
    }
    let mut table = vec![0u8; (table_end - phoff) as usize];
    use std::io::{Seek, SeekFrom};
    f.seek(SeekFrom::Start(phoff))
        .map_err(|e| format!("cannot read: {e}"))?;
    f.read_exact(&mut table)
        .map_err(|e| format!("cannot read program headers: {e}"))?;
    for i in 0..phnum as usize {
        let e = &table[i * phentsize as usize..];
        let ty = u32_at(e, 0, le).ok_or("bad program header")?;
        if ty as u32 != PT_LOAD {
            continue;
        }
        let (off, filesz) = if is64 {
            (
                u64_at(e, 8, le).ok_or("bad program header")?,
                u64_at(e, 32, le).ok_or("bad program header")?,
            )
        } else {
            (
                u32_at(e, 4, le).ok_or("bad program header")?,
                u32_at(e, 16, le).ok_or("bad program header")?,
            )
        };
        let end = off.checked_add(filesz).ok_or("bad segment size")?;
        if end > len {
            return Err(format!(
                "truncated file: loadable segment {i} ends at byte {end}, the file has {len}"
            ));
        }
    }
    Ok(())
}
