//! libvirt's flag bits (declared once, in `virtkit-abi`) and the rules drivers share for them.

pub use virtkit_abi::{
    VK_DOMAIN_AFFECT_CONFIG, VK_DOMAIN_AFFECT_CURRENT, VK_DOMAIN_AFFECT_LIVE,
    VK_DOMAIN_MEM_MAXIMUM, VK_DOMAIN_MESSAGE_DEPRECATION, VK_DOMAIN_MESSAGE_TAINTING,
    VK_DOMAIN_START_PAUSED, VK_DOMAIN_XML_INACTIVE, VK_DOMAIN_XML_SECURE, VK_DUMP_CRASH,
    VK_NETWORK_XML_INACTIVE,
};

use crate::types::{Error, Result};

/// Refuses flag bits outside `allowed`, as libvirt's `virCheckFlags` does (`INVALID_ARG`,
/// naming the bits and the function). Its message is the bare sentence, without the code's
/// "invalid argument: " (libvirt reports it through `virReportInvalidArg`, which prints it so).
pub fn check_flags(flags: u32, allowed: u32, function: &str) -> Result<()> {
    let unknown = flags & !allowed;
    if unknown == 0 {
        Ok(())
    } else {
        Err(Error::new(
            virtkit_abi::VkErrorCode::InvalidArg,
            format!("unsupported flags (0x{unknown:x}) in function {function}"),
        ))
    }
}

/// What a call with `VK_DOMAIN_AFFECT_*` flags changes: the running guest, the persistent
/// definition, or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Affect {
    /// The running guest.
    pub live: bool,
    /// The persistent definition.
    pub config: bool,
}

impl Affect {
    /// libvirt's rule (`virDomainObjUpdateModificationImpact`): `CURRENT` (0) means the live
    /// guest when the domain runs, else its definition; `LIVE` needs a running domain and
    /// `CONFIG` a persistent one.
    pub fn resolve(flags: u32, active: bool, persistent: bool) -> Result<Affect> {
        let mut live = flags & VK_DOMAIN_AFFECT_LIVE != 0;
        let mut config = flags & VK_DOMAIN_AFFECT_CONFIG != 0;
        if !live && !config {
            live = active;
            config = !active;
        }
        if live && !active {
            return Err(Error::operation_invalid("domain is not running"));
        }
        if config && !persistent {
            return Err(Error::operation_invalid(
                "transient domains do not have any persistent config",
            ));
        }
        Ok(Affect { live, config })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn current_follows_the_domain_state() {
        let a = Affect::resolve(VK_DOMAIN_AFFECT_CURRENT, true, true).unwrap();
        assert_eq!((a.live, a.config), (true, false));
        let a = Affect::resolve(VK_DOMAIN_AFFECT_CURRENT, false, true).unwrap();
        assert_eq!((a.live, a.config), (false, true));
        let both = VK_DOMAIN_AFFECT_LIVE | VK_DOMAIN_AFFECT_CONFIG;
        let a = Affect::resolve(both, true, true).unwrap();
        assert_eq!((a.live, a.config), (true, true));
    }

    #[test]
    fn live_needs_a_running_domain_and_config_a_persistent_one() {
        let e = Affect::resolve(VK_DOMAIN_AFFECT_LIVE, false, true).unwrap_err();
        assert_eq!(e.code, ErrorCode::OperationInvalid);
        assert!(
            e.message.ends_with("domain is not running"),
            "{}",
            e.message
        );
        let e = Affect::resolve(VK_DOMAIN_AFFECT_CONFIG, true, false).unwrap_err();
        assert_eq!(e.code, ErrorCode::OperationInvalid);
        // A transient domain that is not running does not exist; CURRENT on a running one is
        // its live state.
        assert!(Affect::resolve(VK_DOMAIN_AFFECT_CURRENT, true, false).is_ok());
    }

    #[test]
    fn unknown_bits_are_refused_by_name() {
        assert!(check_flags(3, 3, "f").is_ok());
        let e = check_flags(9, 1, "virDomainSetMemoryFlags").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArg);
        assert!(
            e.message
                .ends_with("unsupported flags (0x8) in function virDomainSetMemoryFlags"),
            "{}",
            e.message
        );
    }
}
