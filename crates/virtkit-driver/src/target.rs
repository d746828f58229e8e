//! Building for an older core: the ABI minor the table declares.
//!
//! By default the SDK builds the table of the latest ABI this crate knows. A driver that must
//! also load in older cores enables one cargo feature of `virtkit-driver`:
//!
//! * `target-abi-1-0`: the table of ABI 1.0 (loads in every 1.x core);
//! * `target-abi-1-1`: the table of ABI 1.1;
//! * `target-abi-1-2`: the table of ABI 1.2.
//!
//! (With both, the older wins: features add up across a dependency graph.) The table then
//! declares that minor, has exactly its slots (`struct_size`), and an operation that a later
//! minor added is a compile error in `export_plugin!` / `driver_entry!`, naming the feature — a
//! driver cannot set a slot its declared table does not have.

use virtkit_abi::{OPS, VK_ABI_MINOR, VK_HEADER_SIZE, VK_SLOT_SIZE};

use crate::{Driver, Ops};

/// The ABI minor the SDK builds tables for.
pub const TARGET_ABI_MINOR: u16 = if cfg!(feature = "target-abi-1-0") {
    0
} else if cfg!(feature = "target-abi-1-1") {
    1
} else if cfg!(feature = "target-abi-1-2") {
    2
} else {
    VK_ABI_MINOR
};

/// The `struct_size` of a table of [`TARGET_ABI_MINOR`]: the header and the slots up to it.
pub const fn target_table_size() -> usize {
    let mut slots = 0;
    let mut i = 0;
    while i < OPS.len() {
        if OPS[i].since_minor <= TARGET_ABI_MINOR {
            slots += 1;
        }
        i += 1;
    }
    VK_HEADER_SIZE + slots * VK_SLOT_SIZE
}

/// The newest ABI minor among the operations `ops` implements (0 when all are from 1.0).
pub const fn newest_minor<C>(ops: &Ops<C>) -> u16 {
    let since_1_1 = ops.domain_is_persistent.is_some()
        || ops.domain_has_managed_save_image.is_some()
        || ops.node_get_security_model.is_some()
        || ops.domain_get_security_label.is_some()
        || ops.domain_get_state.is_some()
        || ops.domain_xml_from_native.is_some()
        || ops.domain_xml_to_native.is_some()
        || ops.network_is_active.is_some()
        || ops.network_is_persistent.is_some();
    let since_1_2 = ops.domain_set_memory_flags.is_some();
    let since_1_3 = ops.domain_get_messages.is_some();
    if since_1_3 {
        3
    } else if since_1_2 {
        2
    } else if since_1_1 {
        1
    } else {
        0
    }
}

/// Fails to compile (in the export macros) when `D` implements an operation newer than
/// [`TARGET_ABI_MINOR`].
pub const fn check_target<D: Driver>() {
    if newest_minor(&D::OPS) > TARGET_ABI_MINOR && newest_minor(&D::OPS) == 3 {
        panic!(
            "the driver implements an operation of ABI 1.3 (domain_get_messages), but \
             virtkit-driver builds an older table (feature target-abi-1-0, target-abi-1-1 or \
             target-abi-1-2): set that Ops field to None, or drop the feature"
        );
    }
    if newest_minor(&D::OPS) > TARGET_ABI_MINOR && newest_minor(&D::OPS) == 2 {
        panic!(
            "the driver implements an operation of ABI 1.2 (domain_set_memory_flags), but \
             virtkit-driver builds an older table (feature target-abi-1-0 or target-abi-1-1): set \
             that Ops field to None, or drop the feature"
        );
    }
    if newest_minor(&D::OPS) > TARGET_ABI_MINOR {
        panic!(
            "the driver implements an operation of ABI 1.1 (domain_is_persistent, \
             domain_get_state, ...), but virtkit-driver builds ABI 1.0 tables (feature \
             target-abi-1-0): set those Ops fields to None, or drop the feature"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_minor_sees_every_slot_added_after_1_0() {
        // Each operation added after 1.0 is one the check knows (add new ones there).
        let later: Vec<&str> = OPS
            .iter()
            .filter(|o| o.since_minor > 0)
            .map(|o| o.field)
            .collect();
        assert_eq!(
            later.len(),
            11,
            "new operations must be added to newest_minor: {later:?}"
        );
        assert_eq!(newest_minor::<()>(&Ops::NONE), 0);
        let o: Ops<()> = Ops {
            network_is_persistent: Some(|_, _| Ok(true)),
            ..Ops::NONE
        };
        assert_eq!(newest_minor(&o), 1);
        let o: Ops<()> = Ops {
            domain_set_memory_flags: Some(|_, _, _, _| Ok(())),
            ..Ops::NONE
        };
        assert_eq!(newest_minor(&o), 2);
        let o: Ops<()> = Ops {
            domain_get_messages: Some(|_, _, _, _| Ok(())),
            ..Ops::NONE
        };
        assert_eq!(newest_minor(&o), 3);
    }

    #[test]
    fn the_default_target_is_the_latest_table() {
        if TARGET_ABI_MINOR == VK_ABI_MINOR {
            assert_eq!(target_table_size(), virtkit_abi::VK_TABLE_SIZE);
        }
    }
}
