//! The definitions the suite creates: a minimal domain that fits the driver (domain type, OS type
//! and architecture from its capabilities) and a minimal isolated network. Both are written by
//! `virtkit-xml`, never by hand.

use virtkit::Op;
use virtkit_xml::{Capabilities, DomainDef, FormatOptions, NetworkDef};

use crate::suite::Ctx;

/// Memory of the suite's domains, KiB (128 MiB: enough for a real hypervisor to start a guest
/// with no disk).
pub(crate) const MEMORY_KIB: u64 = 131_072;

/// What the suite's domains look like.
#[derive(Clone, Debug)]
pub(crate) struct Guest {
    pub domain_type: String,
    pub os_type: String,
    pub arch: Option<String>,
    pub vcpus: u32,
}

impl Guest {
    /// The domain XML for `name` and `uuid`.
    pub fn xml(&self, name: &str, uuid: uuid::Uuid) -> String {
        let mut def = DomainDef::new(&self.domain_type, name, &self.os_type);
        def.uuid = uuid;
        def.memory_kib = MEMORY_KIB;
        def.current_memory_kib = MEMORY_KIB;
        def.vcpus = self.vcpus;
        def.os.arch = self.arch.clone();
        def.to_xml(&FormatOptions::default().with_inactive(true))
    }
}

/// The XML of an isolated network with its own bridge.
pub(crate) fn network_xml(name: &str, uuid: uuid::Uuid) -> String {
    let mut def = NetworkDef::new(name);
    def.uuid = uuid;
    // Bridge names are at most 15 bytes (IFNAMSIZ - 1).
    def.bridge = Some(format!("vkc{}", &uuid.simple().to_string()[..8]));
    def.to_xml(&FormatOptions::default())
}

/// Picks the guest from the capabilities: an `hvm` guest of the host's architecture if there
/// is one, else the first guest with a domain type. Without `virConnectGetCapabilities`, a
/// `test`/`hvm` guest. With capabilities that list no guest, nothing can run here: the reason is
/// kept and the checks that define domains are skipped with it.
pub(crate) fn choose(ctx: &mut Ctx) {
    let Some(conn) = ctx.rw.clone().or_else(|| ctx.ro.clone()) else {
        return;
    };
    let mut vcpus = 2;
    let max = if ctx.has(Op::GetMaxVcpus) {
        conn.max_vcpus("").ok()
    } else {
        None
    };
    if let Some(n) = max.filter(|n| *n >= 1) {
        vcpus = vcpus.min(n as u32);
    }
    let fallback = Guest {
        domain_type: "test".into(),
        os_type: "hvm".into(),
        arch: None,
        vcpus,
    };
    if !ctx.has(Op::GetCapabilities) {
        ctx.guest = Some(Ok(fallback));
        return;
    }
    let caps = match conn.capabilities() {
        Ok(xml) => match Capabilities::parse(&xml) {
            Ok(c) => c,
            // node/capabilities reports the failure; the suite still tries the fallback guest.
            Err(_) => {
                ctx.guest = Some(Ok(fallback));
                return;
            }
        },
        Err(_) => {
            ctx.guest = Some(Ok(fallback));
            return;
        }
    };
    ctx.guest = Some(pick(&caps, vcpus));
}

fn pick(caps: &Capabilities, vcpus: u32) -> Result<Guest, String> {
    let host_arch = caps.host.cpu.arch.as_str();
    let usable: Vec<_> = caps
        .guests
        .iter()
        .filter(|g| !g.arch.domains.is_empty())
        .collect();
    let best = usable
        .iter()
        .find(|g| g.os_type == "hvm" && g.arch.name == host_arch)
        .or_else(|| usable.iter().find(|g| g.os_type == "hvm"))
        .or_else(|| usable.first())
        .ok_or_else(|| {
            "the driver's capabilities list no guest with a domain type: nothing can run on this machine \
             (is the hypervisor installed?)"
                .to_string()
        })?;
    Ok(Guest {
        domain_type: best.arch.domains[0].domain_type.clone(),
        os_type: best.os_type.clone(),
        arch: Some(best.arch.name.clone()).filter(|a| !a.is_empty()),
        vcpus,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPS: &str = "<capabilities>
  <host><cpu><arch>x86_64</arch></cpu></host>
  <guest><os_type>xen</os_type><arch name='x86_64'><domain type='xen'/></arch></guest>
  <guest><os_type>hvm</os_type><arch name='i686'><domain type='qemu'/></arch></guest>
  <guest><os_type>hvm</os_type><arch name='x86_64'><domain type='qemu'/><domain type='kvm'/></arch></guest>
</capabilities>";

    #[test]
    fn prefers_hvm_on_the_host_arch() {
        let caps = Capabilities::parse(CAPS).unwrap();
        let g = pick(&caps, 2).unwrap();
        assert_eq!(
            (
                g.domain_type.as_str(),
                g.os_type.as_str(),
                g.arch.as_deref()
            ),
            ("qemu", "hvm", Some("x86_64"))
        );
        let xml = g.xml("vm", uuid::Uuid::new_v4());
        let def = DomainDef::parse(&xml).unwrap();
        assert_eq!(
            (def.memory_kib, def.vcpus, def.name.as_str()),
            (MEMORY_KIB, 2, "vm")
        );
    }

    #[test]
    fn no_guest_is_a_reason_to_skip() {
        let caps = Capabilities::parse(
            "<capabilities><host><cpu><arch>x86_64</arch></cpu></host></capabilities>",
        )
        .unwrap();
        assert!(pick(&caps, 1).unwrap_err().contains("no guest"));
    }

    #[test]
    fn network_xml_parses() {
        let u = uuid::Uuid::new_v4();
        let def = NetworkDef::parse(&network_xml("n", u)).unwrap();
        assert_eq!(def.uuid, u);
        assert!(def.bridge.unwrap().len() <= 15);
    }
}
