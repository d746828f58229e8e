//! Validation of a driver table before any of its entries is called.

use std::path::{Path, PathBuf};

use virtkit_abi::{
    OP_COUNT, OPS, Op, VK_ABI_MAJOR, VK_ABI_MINOR, VK_CAP_WORDS, VK_HEADER_SIZE, VK_MAGIC,
    VK_MAX_OPS, VK_SLOT_SIZE, VK_TABLE_SIZE, VkDriverHeader, VkDriverTable, VkStr,
};

use crate::registry::Origin;

/// Why a plugin file was refused. Every variant renders as one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The dynamic linker could not load the file (not ELF, truncated, missing dependency...).
    #[error("{path}: cannot load: {reason}")]
    Dlopen {
        /// The plugin file.
        path: PathBuf,
        /// What the dynamic linker said.
        reason: String,
    },
    /// The file has no `virtkit_driver_entry` symbol.
    #[error("{path}: not a virtkit driver: no virtkit_driver_entry symbol")]
    NoEntry {
        /// The plugin file.
        path: PathBuf,
    },
    /// The table failed validation.
    #[error("{origin}: refused: {reason}")]
    Invalid {
        /// Where the table came from.
        origin: Origin,
        /// What is wrong with it.
        reason: String,
    },
}

impl LoadError {
    /// The file concerned, when the table came from a file.
    pub fn path(&self) -> Option<&Path> {
        match self {
            LoadError::Dlopen { path, .. } | LoadError::NoEntry { path } => Some(path),
            LoadError::Invalid {
                origin: Origin::Plugin(path),
                ..
            } => Some(path),
            LoadError::Invalid {
                origin: Origin::Static,
                ..
            } => None,
        }
    }
}

/// A validated driver table, with its header decoded into owned values.
pub struct Driver {
    pub(crate) origin: Origin,
    pub(crate) table: VkDriverTable,
    name: String,
    version: semver::Version,
    schemes: Vec<String>,
    abi_minor: u16,
    struct_size: u32,
    flags: u32,
    error_domain: u32,
    stack_rank: u32,
    op_ranks: Vec<(usize, u32)>,
    sandbox_uri: String,
    present: [bool; OP_COUNT],
    caps: [u64; VK_CAP_WORDS],
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("name", &self.name)
            .field("version", &self.version.to_string())
            .field("origin", &self.origin)
            .field("abi_minor", &self.abi_minor)
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// Driver name, e.g. `test`.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Driver version.
    pub fn version(&self) -> &semver::Version {
        &self.version
    }
    /// URI schemes served.
    pub fn schemes(&self) -> &[String] {
        &self.schemes
    }
    /// Where the driver came from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }
    /// ABI version the driver was built against, as `(major, minor)`.
    pub fn abi_version(&self) -> (u16, u16) {
        (VK_ABI_MAJOR, self.abi_minor)
    }
    /// Size of the table as the driver was built.
    pub fn struct_size(&self) -> u32 {
        self.struct_size
    }
    /// `VK_DRIVER_*` flags.
    pub fn flags(&self) -> u32 {
        self.flags
    }
    /// Whether the driver declares that its entries may be called concurrently.
    pub fn thread_safe(&self) -> bool {
        self.flags & virtkit_abi::VK_DRIVER_THREAD_SAFE != 0
    }
    /// libvirt-style error domain of this driver's errors.
    pub fn error_domain(&self) -> u32 {
        self.error_domain
    }
    /// URI of a disposable instance for the conformance suite (`{tmpdir}` placeholder), if any.
    pub fn sandbox_uri(&self) -> Option<&str> {
        (!self.sandbox_uri.is_empty()).then_some(self.sandbox_uri.as_str())
    }
    /// Whether the driver implements `op` (its slot is non-NULL).
    pub fn supports(&self, op: Op) -> bool {
        self.present[op as usize]
    }
    /// The capability bits exactly as the plugin declared them.
    pub fn capability_bits(&self) -> [u64; VK_CAP_WORDS] {
        self.caps
    }
    /// Number of implemented operations.
    pub fn capability_count(&self) -> usize {
        self.present.iter().filter(|p| **p).count()
    }
    /// The rank of this driver for `op` within a stack serving one scheme (lower first).
    pub fn rank_for(&self, op: Op) -> u32 {
        self.op_ranks
            .iter()
            .find(|(o, _)| *o == op as usize)
            .map(|(_, r)| *r)
            .unwrap_or(self.stack_rank)
    }
    /// Whether the driver serves `scheme`.
    pub fn serves(&self, scheme: &str) -> bool {
        self.schemes.iter().any(|s| s == scheme)
    }

    /// Validates a table and copies it into the current layout.
    ///
    /// # Safety
    /// `ptr` must be NULL or point at a table that stays valid for the life of the process, whose
    /// first `header.struct_size` bytes are readable, and whose strings and arrays are valid for
    /// the sizes the header gives.
    pub unsafe fn from_raw(ptr: *const VkDriverTable, origin: Origin) -> Result<Driver, LoadError> {
        let invalid = |reason: String| LoadError::Invalid {
            origin: origin.clone(),
            reason,
        };
        if ptr.is_null() {
            return Err(invalid("the entry function returned NULL".into()));
        }
        if !(ptr as usize).is_multiple_of(std::mem::align_of::<VkDriverHeader>()) {
            return Err(invalid("the table is misaligned".into()));
        }
        // SAFETY: ptr is non-NULL, aligned, and points at least at a header per the caller.
        // The magic is read first, on its own, so that a foreign table is refused early.
        let magic = unsafe { std::ptr::read(ptr.cast::<u32>()) };
        if magic != VK_MAGIC {
            return Err(invalid(format!(
                "bad magic {magic:#010x} (expected {VK_MAGIC:#010x}, \"VKDR\")"
            )));
        }
        // SAFETY: as above; the header is the fixed prefix of every table.
        let header: VkDriverHeader = unsafe { std::ptr::read(ptr.cast::<VkDriverHeader>()) };
        if header.abi_major != VK_ABI_MAJOR {
            return Err(invalid(format!(
                "built for ABI {}.{}, this core speaks ABI {VK_ABI_MAJOR}.{VK_ABI_MINOR} (major versions differ)",
                header.abi_major, header.abi_minor
            )));
        }
        let size = header.struct_size as usize;
        let min = VK_HEADER_SIZE + 2 * VK_SLOT_SIZE;
        if size < min {
            return Err(invalid(format!(
                "table size {size} is smaller than the header plus open and close ({min} bytes)"
            )));
        }
        if !(size - VK_HEADER_SIZE).is_multiple_of(VK_SLOT_SIZE) {
            return Err(invalid(format!(
                "table size {size} is not the header plus a whole number of slots"
            )));
        }
        let plugin_slots = (size - VK_HEADER_SIZE) / VK_SLOT_SIZE;
        // The size the declared minor has: every slot up to that minor, no more, no less.
        if header.abi_minor <= VK_ABI_MINOR {
            let slots = OPS
                .iter()
                .filter(|o| o.since_minor <= header.abi_minor)
                .count();
            let expected = VK_HEADER_SIZE + slots * VK_SLOT_SIZE;
            if size != expected {
                return Err(invalid(format!(
                    "table size {size} does not match ABI 1.{}, whose table is {expected} bytes \
                     ({slots} slots): struct_size must be sizeof(vk_driver_table) of the header \
                     the plugin was built with",
                    header.abi_minor
                )));
            }
        } else if size < VK_TABLE_SIZE {
            return Err(invalid(format!(
                "table size {size} is smaller than ABI 1.{VK_ABI_MINOR}'s ({VK_TABLE_SIZE}), \
                 though the plugin declares the newer ABI 1.{}",
                header.abi_minor
            )));
        }
        // Reserved header words are zero; host_init took reserved word 0 in ABI 1.2. (A newer
        // minor may have given the others a meaning this core does not know.)
        if header.abi_minor <= VK_ABI_MINOR && header.reserved.iter().any(|w| *w != 0) {
            return Err(invalid(
                "the header's reserved words are not zero (they must be, until a later ABI \
                 gives them a meaning)"
                    .into(),
            ));
        }
        if header.abi_minor < 2 && header.host_init.is_some() {
            return Err(invalid(format!(
                "host_init is set, but the plugin declares ABI 1.{}, where that header word is \
                 reserved and must be zero (host_init is ABI 1.2)",
                header.abi_minor
            )));
        }

        // Copy the slots the plugin has and the core knows; the rest stay NULL.
        let mut table = VkDriverTable::empty(header);
        let copy = size.min(VK_TABLE_SIZE);
        // SAFETY: `copy` bytes are readable at ptr (plugin side: struct_size bytes; we never copy
        // more than that) and `table` has room for VK_TABLE_SIZE >= copy bytes. Both are plain
        // data: function pointers are `Option<fn>` where all-zero means None.
        unsafe {
            std::ptr::copy_nonoverlapping(
                ptr.cast::<u8>(),
                (&mut table as *mut VkDriverTable).cast::<u8>(),
                copy,
            );
        }

        // SAFETY: the caller guarantees the header's strings are valid.
        let name =
            unsafe { header_str(&header.name) }.map_err(|e| invalid(format!("driver name {e}")))?;
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(invalid(format!(
                "driver name {name:?} must be non-empty lower-case ASCII letters, digits, '-' or '_'"
            )));
        }
        // SAFETY: as above.
        let version_text = unsafe { header_str(&header.version) }
            .map_err(|e| invalid(format!("driver version {e}")))?;
        let version = semver::Version::parse(&version_text).map_err(|e| {
            invalid(format!(
                "driver version {version_text:?} is not a semantic version: {e}"
            ))
        })?;
        if header.n_schemes == 0 || header.schemes.is_null() {
            return Err(invalid("the driver declares no URI scheme".into()));
        }
        if header.n_schemes > 64 {
            return Err(invalid(format!(
                "the driver declares {} URI schemes (at most 64)",
                header.n_schemes
            )));
        }
        let mut schemes = Vec::with_capacity(header.n_schemes);
        for i in 0..header.n_schemes {
            // SAFETY: the caller guarantees `schemes` has `n_schemes` valid entries.
            let s = unsafe { header_str(&*header.schemes.add(i)) }
                .map_err(|e| invalid(format!("scheme #{i} {e}")))?;
            if s.is_empty()
                || !s
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
            {
                return Err(invalid(format!("scheme {s:?} is not a valid URI scheme")));
            }
            schemes.push(s);
        }
        let mut op_ranks = Vec::new();
        if header.n_op_ranks > 0 {
            if header.op_ranks.is_null() || header.n_op_ranks > VK_MAX_OPS {
                return Err(invalid("the per-operation rank list is malformed".into()));
            }
            for i in 0..header.n_op_ranks {
                // SAFETY: the caller guarantees `op_ranks` has `n_op_ranks` entries.
                let r = unsafe { *header.op_ranks.add(i) };
                op_ranks.push((r.op as usize, r.rank));
            }
        }
        // SAFETY: as above.
        let sandbox_uri = unsafe { header_str(&header.sandbox_uri) }
            .map_err(|e| invalid(format!("sandbox URI {e}")))?;

        let present = table.present_slots();
        if !present[Op::Open as usize] || !present[Op::Close as usize] {
            return Err(invalid(
                "the required entries open and close must both be present".into(),
            ));
        }
        for (i, info) in OPS.iter().enumerate() {
            let bit = header.has_cap(i);
            if i >= plugin_slots {
                if bit {
                    return Err(invalid(format!(
                        "capability bit {i} ({}) is set but the table has no such slot",
                        info.field
                    )));
                }
                continue;
            }
            if bit && !present[i] {
                return Err(invalid(format!(
                    "capability bit {i} ({}) is set but its entry is NULL",
                    info.field
                )));
            }
            if present[i] && !bit {
                return Err(invalid(format!(
                    "entry {} is present but capability bit {i} is not set",
                    info.field
                )));
            }
        }
        // Bits past the operations this core knows: allowed only for slots a newer minor added.
        for i in OP_COUNT..VK_CAP_WORDS * 64 {
            if header.has_cap(i) && (header.abi_minor <= VK_ABI_MINOR || i >= plugin_slots) {
                return Err(invalid(format!(
                    "capability bit {i} names no operation of ABI 1.{}",
                    header.abi_minor
                )));
            }
        }

        if let Some(init) = header.host_init {
            // SAFETY: the table is validated; host_init is the documented ABI 1.2 entry, and the
            // services table is a static that outlives every driver.
            unsafe { init(&crate::host::HOST_SERVICES) };
        }

        Ok(Driver {
            origin,
            table,
            name,
            version,
            schemes,
            abi_minor: header.abi_minor,
            struct_size: header.struct_size,
            flags: header.flags,
            error_domain: header.error_domain,
            stack_rank: header.stack_rank,
            op_ranks,
            sandbox_uri,
            present,
            caps: header.caps,
        })
    }
}

/// Copies a header string, refusing absurd lengths and non-UTF-8.
///
/// # Safety
/// `s` must describe readable memory.
unsafe fn header_str(s: &VkStr) -> Result<String, String> {
    if s.len > 4096 {
        return Err(format!("is {} bytes long (at most 4096)", s.len));
    }
    if s.len > 0 && s.ptr.is_null() {
        return Err("has a NULL pointer".into());
    }
    // SAFETY: forwarded to the caller.
    let bytes = unsafe { s.as_bytes() };
    String::from_utf8(bytes.to_vec()).map_err(|_| "is not UTF-8".into())
}
