//! The libvirt XML formats as virtkit reads and writes them: domain, device, network,
//! capabilities and the test driver's node documents.
//!
//! Every other virtkit crate goes through this one to parse or format these documents.
//! Parsing is strict (unknown elements, malformed values and missing mandatory parts are
//! errors with a line and column) and never panics. Formatting is deterministic, in libvirt's
//! element order, with two-space indentation and single-quoted attributes; [`FormatOptions`]
//! chooses between libvirt 9.0 output (the default) and the 0.4.6-era output of the
//! conformance corpus.
//!
//! ```
//! use virtkit_xml::{DomainDef, FormatOptions};
//!
//! let def = DomainDef::parse(
//!     "<domain type='kvm'><name>demo</name><memory unit='MiB'>512</memory>\
//!      <os><type arch='x86_64'>hvm</type></os></domain>",
//! )?;
//! assert_eq!(def.memory_kib, 524288);
//! let xml = def.to_xml(&FormatOptions::default());
//! assert!(xml.contains("<memory unit='KiB'>524288</memory>"));
//! assert_eq!(DomainDef::parse(&xml)?, def);
//! # Ok::<(), virtkit_xml::Error>(())
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod capabilities;
mod compare;
mod devices;
mod domain;
mod error;
mod network;
mod node;
mod options;
mod query;
mod tree;
mod values;
mod writer;

pub use capabilities::{
    Capabilities, CapsDomain, CapsGuest, CapsGuestArch, CapsGuestFeature, CapsHost, CapsHostCpu,
    CapsMachine, CellCpu, CellPages, CpuTopology, MigrationFeatures, NumaCell, SecModel,
};
pub use compare::{
    equivalent_capabilities, equivalent_domains, equivalent_networks, model_difference,
};
pub use devices::{
    CONTROLLER_TYPES, ChardevDef, ChardevMode, ChardevProtocol, ChardevSource, ControllerDef,
    DISK_CACHE_MODES, Device, DeviceAddress, Devices, DiskBus, DiskDef, DiskDevice, DiskType,
    FilesystemDef, FilesystemType, GraphicsDef, HostdevDef, HostdevSource, InputBus, InputDef,
    InputType, InterfaceDef, InterfaceSource, MemballoonDef, PciAddress, SdlGraphics, SoundDef,
    SoundModel, VIDEO_MODELS, VideoDef, VncGraphics,
};
pub use domain::{
    ARCHITECTURES, BootDevice, Clock, ClockOffset, DOMAIN_TYPE_MAX_LEN, DOMAIN_TYPES, DomainDef,
    Features, LifecycleAction, MAX_CPUSET_CPUS, MAX_VCPUS, MaxMemory, MemTune, OS_TYPES, OsDef,
    Timer, VcpuPlacement, is_domain_type_name,
};
pub use error::{Error, Result};
pub use network::{DhcpHost, DhcpRange, ForwardMode, NetworkDef, NetworkForward, NetworkIp};
pub use node::{MAX_NODE_FILE, NodeCpu, NodeDef};
pub use options::{FormatOptions, FormatStyle};
pub use query::{XmlDocument, XmlNode, root_attribute};
pub use values::{MacAddr, MacAddrParseError, parse_uuid};
