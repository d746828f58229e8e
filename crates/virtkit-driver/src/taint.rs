//! A domain's taints and deprecations, and the messages `virDomainGetMessages` makes of them.
//!
//! libvirt marks a domain object *tainted* when it runs with something its developers cannot
//! vouch for (a shell script on an interface, a host CD-ROM, custom QEMU arguments, ...), and
//! records the *deprecated* configuration it uses. Each driver decides when it taints (libvirt's
//! test driver when it loads a node file; its QEMU driver when a guest starts and when a device
//! is hot-plugged); the set, the wording and the order of the messages are libvirt's, and live
//! here once.

use crate::flags::{VK_DOMAIN_MESSAGE_DEPRECATION, VK_DOMAIN_MESSAGE_TAINTING, check_flags};
use crate::types::Result;

/// libvirt's taint reasons (`virDomainTaintFlags`), in libvirt's order, which is the order of the
/// messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Taint {
    /// Custom argv passthrough from the XML (`qemu:commandline`).
    CustomArgv = 0,
    /// Custom monitor commands were issued.
    CustomMonitor = 1,
    /// The guest runs with undesirably high privileges.
    HighPrivileges = 2,
    /// Network configuration through opaque shell scripts (`<script>` on an interface).
    ShellScripts = 3,
    /// Relying on potentially unsafe disk format probing.
    DiskProbing = 4,
    /// An externally launched guest.
    ExternalLaunch = 5,
    /// Host CPU passthrough in use (after a migration).
    HostCpu = 6,
    /// The domain was (possibly) changed by a hook script.
    Hook = 7,
    /// A host CD-ROM is passed through.
    CdromPassthrough = 8,
    /// A custom device tree blob was given.
    CustomDtb = 9,
    /// Custom guest agent commands were issued.
    CustomGaCommand = 10,
    /// Hypervisor feature autodetection was overridden.
    CustomHypervisorFeature = 11,
    /// Configuration marked deprecated is in use.
    DeprecatedConfig = 12,
    /// Hypervisor device configuration was customized.
    CustomDevice = 13,
    /// nbdkit could not be restarted.
    NbdkitRestart = 14,
}

impl Taint {
    /// Every taint, in libvirt's order.
    pub const ALL: [Taint; 15] = [
        Taint::CustomArgv,
        Taint::CustomMonitor,
        Taint::HighPrivileges,
        Taint::ShellScripts,
        Taint::DiskProbing,
        Taint::ExternalLaunch,
        Taint::HostCpu,
        Taint::Hook,
        Taint::CdromPassthrough,
        Taint::CustomDtb,
        Taint::CustomGaCommand,
        Taint::CustomHypervisorFeature,
        Taint::DeprecatedConfig,
        Taint::CustomDevice,
        Taint::NbdkitRestart,
    ];

    /// libvirt's name of the taint (`virDomainTaintTypeToString`: `shell-scripts`, ...), as
    /// its logs and status files write it.
    pub const fn name(self) -> &'static str {
        match self {
            Taint::CustomArgv => "custom-argv",
            Taint::CustomMonitor => "custom-monitor",
            Taint::HighPrivileges => "high-privileges",
            Taint::ShellScripts => "shell-scripts",
            Taint::DiskProbing => "disk-probing",
            Taint::ExternalLaunch => "external-launch",
            Taint::HostCpu => "host-cpu",
            Taint::Hook => "hook-script",
            Taint::CdromPassthrough => "cdrom-passthrough",
            Taint::CustomDtb => "custom-dtb",
            Taint::CustomGaCommand => "custom-ga-command",
            Taint::CustomHypervisorFeature => "custom-hypervisor-feature",
            Taint::DeprecatedConfig => "deprecated-config",
            Taint::CustomDevice => "custom-device",
            Taint::NbdkitRestart => "nbdkit-restart",
        }
    }

    /// The taint of a libvirt name ([`Taint::name`]).
    pub fn from_name(name: &str) -> Option<Taint> {
        Taint::ALL.into_iter().find(|t| t.name() == name)
    }

    /// libvirt's description of the taint (`virDomainTaintMessageTypeToString`), which follows
    /// `tainted: ` in the messages.
    pub const fn message(self) -> &'static str {
        match self {
            Taint::CustomArgv => "custom configuration parameters specified",
            Taint::CustomMonitor => "custom monitor control commands issued",
            Taint::HighPrivileges => "running with undesirable elevated privileges",
            Taint::ShellScripts => "network configuration using opaque shell scripts",
            Taint::DiskProbing => "potentially unsafe disk format probing",
            Taint::ExternalLaunch => "managing externally launched configuration",
            Taint::HostCpu => "potentially unsafe use of host CPU passthrough",
            Taint::Hook => "configuration potentially modified by hook script",
            Taint::CdromPassthrough => "use of host cdrom passthrough",
            Taint::CustomDtb => "custom device tree blob used",
            Taint::CustomGaCommand => "custom guest agent control commands issued",
            Taint::CustomHypervisorFeature => "hypervisor feature autodetection override",
            Taint::DeprecatedConfig => "use of deprecated configuration settings",
            Taint::CustomDevice => "custom device configuration",
            Taint::NbdkitRestart => "nbdkit restart failed",
        }
    }

    const fn bit(self) -> u32 {
        1 << self as u32
    }
}

/// What a domain object carries (libvirt's `virDomainObj` `taint` bits and `deprecations`): each
/// taint once, and the deprecations in the order they were recorded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Taints {
    bits: u32,
    deprecations: Vec<String>,
}

impl Taints {
    /// No taint, no deprecation.
    pub fn new() -> Taints {
        Taints::default()
    }

    /// Marks the domain tainted by `t`; false when it already was (`virDomainObjTaint`).
    pub fn taint(&mut self, t: Taint) -> bool {
        let had = self.has(t);
        self.bits |= t.bit();
        !had
    }

    /// Whether the domain is tainted by `t`.
    pub fn has(&self, t: Taint) -> bool {
        self.bits & t.bit() != 0
    }

    /// Records a deprecated setting in use, such as `CPU model 'Opteron_G1'`
    /// (`virDomainObjDeprecation`: recorded each time, even when it is already there).
    pub fn deprecate(&mut self, what: impl Into<String>) {
        self.deprecations.push(what.into());
    }

    /// The taints, in libvirt's order.
    pub fn taints(&self) -> impl Iterator<Item = Taint> + '_ {
        Taint::ALL.into_iter().filter(|t| self.has(*t))
    }

    /// The deprecations, in the order they were recorded.
    pub fn deprecations(&self) -> &[String] {
        &self.deprecations
    }

    /// Whether there is neither a taint nor a deprecation.
    pub fn is_empty(&self) -> bool {
        self.bits == 0 && self.deprecations.is_empty()
    }

    /// The messages of `virDomainGetMessages(flags)`: with `VK_DOMAIN_MESSAGE_TAINTING` (or no
    /// flag) `tainted: <message>` for each taint in libvirt's order, then with
    /// `VK_DOMAIN_MESSAGE_DEPRECATION` (or no flag) `deprecated configuration: <what>` for each
    /// deprecation. Other flag bits are refused, naming `function` (libvirt's `virCheckFlags`).
    pub fn messages(&self, flags: u32, function: &str) -> Result<Vec<String>> {
        check_flags(
            flags,
            VK_DOMAIN_MESSAGE_DEPRECATION | VK_DOMAIN_MESSAGE_TAINTING,
            function,
        )?;
        let mut out = Vec::new();
        if flags == 0 || flags & VK_DOMAIN_MESSAGE_TAINTING != 0 {
            out.extend(self.taints().map(|t| format!("tainted: {}", t.message())));
        }
        if flags == 0 || flags & VK_DOMAIN_MESSAGE_DEPRECATION != 0 {
            out.extend(
                self.deprecations
                    .iter()
                    .map(|d| format!("deprecated configuration: {d}")),
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_messages_are_libvirts_and_round_trip() {
        for (i, t) in Taint::ALL.into_iter().enumerate() {
            assert_eq!(t as usize, i);
            assert_eq!(Taint::from_name(t.name()), Some(t));
            assert!(!t.message().is_empty());
        }
        assert_eq!(Taint::from_name("no-such-taint"), None);
        assert_eq!(
            Taint::ShellScripts.message(),
            "network configuration using opaque shell scripts"
        );
    }

    #[test]
    fn messages_follow_libvirts_order_and_flags() {
        let mut t = Taints::new();
        assert!(t.is_empty());
        assert_eq!(t.messages(0, "f").unwrap(), Vec::<String>::new());
        // Recorded out of order: reported in libvirt's order, each taint once.
        assert!(t.taint(Taint::CdromPassthrough));
        assert!(t.taint(Taint::ShellScripts));
        assert!(!t.taint(Taint::ShellScripts));
        t.taint(Taint::DeprecatedConfig);
        t.deprecate("CPU model Deprecated-Test");
        let all = [
            "tainted: network configuration using opaque shell scripts",
            "tainted: use of host cdrom passthrough",
            "tainted: use of deprecated configuration settings",
            "deprecated configuration: CPU model Deprecated-Test",
        ];
        assert_eq!(t.messages(0, "f").unwrap(), all);
        assert_eq!(
            t.messages(
                VK_DOMAIN_MESSAGE_TAINTING | VK_DOMAIN_MESSAGE_DEPRECATION,
                "f"
            )
            .unwrap(),
            all
        );
        assert_eq!(
            t.messages(VK_DOMAIN_MESSAGE_TAINTING, "f").unwrap(),
            all[..3]
        );
        assert_eq!(
            t.messages(VK_DOMAIN_MESSAGE_DEPRECATION, "f").unwrap(),
            all[3..]
        );
        let e = t.messages(4, "testDomainGetMessages").unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::InvalidArg);
        assert!(
            e.message
                .ends_with("unsupported flags (0x4) in function testDomainGetMessages"),
            "{e:?}"
        );
    }
}
