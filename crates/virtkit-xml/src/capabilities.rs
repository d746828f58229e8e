//! `<capabilities>`: what a host and its hypervisor can run.

use uuid::Uuid;

use crate::error::{Error, Result};
use crate::options::FormatOptions;
use crate::tree::{Element, expect_root, once, parse_document};
use crate::values::{parse_decimal_u64, parse_u32, parse_yes_no, scaled_kib, uuid_element, yes_no};
use crate::writer::{Tag, Writer};

/// `<cpu><topology>` of the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuTopology {
    /// Sockets.
    pub sockets: u32,
    /// Dies per socket.
    pub dies: Option<u32>,
    /// Cores per die.
    pub cores: u32,
    /// Threads per core.
    pub threads: u32,
}

/// The host CPU (`<host><cpu>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CapsHostCpu {
    /// `<arch>`.
    pub arch: String,
    /// `<model>`.
    pub model: Option<String>,
    /// `<vendor>`.
    pub vendor: Option<String>,
    /// `<topology>`.
    pub topology: Option<CpuTopology>,
    /// Flags in the old `<features><vmx/><pae/></features>` block, in document order.
    pub flags: Vec<String>,
    /// `<feature name='...'/>` entries, in document order.
    pub features: Vec<String>,
    /// `<pages size>` page sizes in KiB.
    pub page_sizes_kib: Vec<u64>,
}

/// `<migration_features>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MigrationFeatures {
    /// `<live/>`.
    pub live: bool,
    /// `<uri_transports><uri_transport>` entries.
    pub uri_transports: Vec<String>,
}

/// A host CPU inside a NUMA cell.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CellCpu {
    /// `id`.
    pub id: u32,
    /// `socket_id`.
    pub socket_id: Option<u32>,
    /// `die_id`.
    pub die_id: Option<u32>,
    /// `core_id`.
    pub core_id: Option<u32>,
    /// `siblings` (a CPU list).
    pub siblings: Option<String>,
}

/// Free pages of one size in a NUMA cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CellPages {
    /// Page size in KiB.
    pub size_kib: u64,
    /// Number of pages.
    pub count: u64,
}

/// A NUMA cell (`<cell>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NumaCell {
    /// `id`.
    pub id: u32,
    /// `<memory>` in KiB.
    pub memory_kib: Option<u64>,
    /// `<pages>` entries.
    pub pages: Vec<CellPages>,
    /// `<cpus><cpu>` entries.
    pub cpus: Vec<CellCpu>,
}

/// A security model (`<secmodel>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecModel {
    /// `<model>`.
    pub model: String,
    /// `<doi>` (may be empty).
    pub doi: String,
    /// `<baselabel type>` entries: (virtualisation type, label).
    pub base_labels: Vec<(String, String)>,
}

/// `<host>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CapsHost {
    /// `<uuid>`.
    pub uuid: Option<Uuid>,
    /// `<cpu>`.
    pub cpu: CapsHostCpu,
    /// `<power_management>`: supported suspend targets (`suspend_mem`, ...); `None` when absent.
    pub power_management: Option<Vec<String>>,
    /// `<iommu support>`.
    pub iommu: Option<bool>,
    /// `<migration_features>`.
    pub migration: Option<MigrationFeatures>,
    /// `<topology><cells>`; `None` when absent.
    pub cells: Option<Vec<NumaCell>>,
    /// `<secmodel>` entries.
    pub secmodels: Vec<SecModel>,
}

/// A machine type (`<machine>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CapsMachine {
    /// The machine name, for example `pc` or `xenfv`.
    pub name: String,
    /// `canonical`: the versioned name an alias stands for.
    pub canonical: Option<String>,
    /// `maxCpus`.
    pub max_cpus: Option<u32>,
}

/// A domain type available for a guest architecture (`<domain type>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CapsDomain {
    /// `type`, for example `qemu`, `kvm`, `xen`.
    pub domain_type: String,
    /// An `<emulator>` specific to this domain type.
    pub emulator: Option<String>,
    /// `<machine>`s specific to this domain type.
    pub machines: Vec<CapsMachine>,
}

/// `<guest><arch>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CapsGuestArch {
    /// `name`, for example `i686`.
    pub name: String,
    /// `<wordsize>`.
    pub wordsize: Option<u32>,
    /// `<emulator>`.
    pub emulator: Option<String>,
    /// `<loader>`.
    pub loader: Option<String>,
    /// `<machine>`s.
    pub machines: Vec<CapsMachine>,
    /// `<domain>`s.
    pub domains: Vec<CapsDomain>,
}

/// A guest feature (`<pae/>`, `<acpi default='on' toggle='yes'/>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CapsGuestFeature {
    /// The element name.
    pub name: String,
    /// `default='on|off'`.
    pub default_on: Option<bool>,
    /// `toggle='yes|no'`.
    pub toggle: Option<bool>,
}

/// `<guest>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CapsGuest {
    /// `<os_type>`: `hvm`, `xen`, `exe`, ...
    pub os_type: String,
    /// `<arch>`.
    pub arch: CapsGuestArch,
    /// `<features>` in document order.
    pub features: Vec<CapsGuestFeature>,
}

/// A capabilities document (`<capabilities>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// `<host>`.
    pub host: CapsHost,
    /// `<guest>`s.
    pub guests: Vec<CapsGuest>,
}

impl Capabilities {
    /// Parses and validates a capabilities document.
    pub fn parse(xml: &str) -> Result<Capabilities> {
        parse_caps(&parse_document(xml)?)
    }

    /// Writes the document in the default (libvirt 9.0) style.
    pub fn to_xml(&self) -> String {
        self.to_xml_with(&FormatOptions::default())
    }

    /// Writes the document in the given style. The legacy style reproduces libvirt 0.4.6
    /// byte for byte (empty `<domain>` elements written open and closed).
    pub fn to_xml_with(&self, opts: &FormatOptions) -> String {
        let mut w = Writer::new();
        w.open_close(Tag::new("capabilities"), |w| {
            w.blank_line();
            write_host(w, &self.host, opts);
            for g in &self.guests {
                w.blank_line();
                write_guest(w, g, opts);
            }
            w.blank_line();
        });
        w.finish()
    }

    /// The guests that can run `os_type` on `arch`.
    pub fn guests_for(&self, os_type: &str, arch: &str) -> impl Iterator<Item = &CapsGuest> {
        let (os_type, arch) = (os_type.to_owned(), arch.to_owned());
        self.guests
            .iter()
            .filter(move |g| g.os_type == os_type && g.arch.name == arch)
    }
}

impl std::str::FromStr for Capabilities {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Capabilities::parse(s)
    }
}

fn text_u32(el: &Element) -> Result<u32> {
    let t = el.trimmed_text()?;
    parse_u32(t).ok_or_else(|| {
        el.error(format!(
            "Invalid <{}> value '{t}': expected a non-negative integer",
            el.name
        ))
    })
}

fn num_attr(el: &Element, name: &str) -> Result<u32> {
    el.parsed_attr(name, "a non-negative integer", parse_u32)?
        .ok_or_else(|| el.error(format!("Missing attribute '{name}' on <{}>", el.name)))
}

fn parse_caps(el: &Element) -> Result<Capabilities> {
    expect_root(el, "capabilities")?;
    el.expect_no_text()?;
    let mut host = None;
    let mut guests = Vec::new();
    for child in &el.children {
        match child.name.as_str() {
            "host" => once(&mut host, child, el)?,
            "guest" => guests.push(parse_guest(child)?),
            _ => return Err(el.unexpected(child, &["host", "guest"])),
        }
    }
    let host = parse_host(host.ok_or_else(|| el.missing("host"))?)?;
    Ok(Capabilities { host, guests })
}

fn parse_pages_attr(el: &Element) -> Result<u64> {
    let size = el.required_attr("size")?;
    let n =
        parse_decimal_u64(size.trim()).ok_or_else(|| el.bad_attr("size", size, "a page size"))?;
    let mult = match el.attr("unit") {
        Some(u) => crate::values::unit_multiplier(u)
            .ok_or_else(|| el.bad_attr("unit", u, "a size unit"))?,
        None => 1024,
    };
    n.checked_mul(mult)
        .and_then(crate::values::bytes_to_kib)
        .ok_or_else(|| el.error("Page size overflows"))
}

fn parse_host(el: &Element) -> Result<CapsHost> {
    el.expect_no_text()?;
    const NAMES: &[&str] = &[
        "uuid",
        "cpu",
        "power_management",
        "iommu",
        "migration_features",
        "topology",
        "secmodel",
    ];
    let mut slots: [Option<&Element>; 6] = [None; 6];
    let mut secmodels = Vec::new();
    for child in &el.children {
        match NAMES.iter().position(|n| *n == child.name) {
            Some(6) => secmodels.push(parse_secmodel(child)?),
            Some(i) => once(&mut slots[i], child, el)?,
            None => return Err(el.unexpected(child, NAMES)),
        }
    }
    let cpu = parse_host_cpu(slots[1].ok_or_else(|| el.missing("cpu"))?)?;
    let power_management = match slots[2] {
        Some(p) => {
            p.expect_no_text()?;
            const PM: &[&str] = &["suspend_mem", "suspend_disk", "suspend_hybrid"];
            let mut v = Vec::new();
            for c in &p.children {
                if !PM.contains(&c.name.as_str()) {
                    return Err(p.unexpected(c, PM));
                }
                c.expect_empty()?;
                v.push(c.name.clone());
            }
            Some(v)
        }
        None => None,
    };
    let iommu = match slots[3] {
        Some(i) => {
            i.expect_empty()?;
            Some(
                i.parsed_attr("support", "yes or no", parse_yes_no)?
                    .ok_or_else(|| i.error("Missing attribute 'support' on <iommu>"))?,
            )
        }
        None => None,
    };
    let migration = slots[4].map(parse_migration).transpose()?;
    let cells = slots[5].map(parse_topology).transpose()?;
    Ok(CapsHost {
        uuid: slots[0].map(uuid_element).transpose()?,
        cpu,
        power_management,
        iommu,
        migration,
        cells,
        secmodels,
    })
}

fn parse_host_cpu(el: &Element) -> Result<CapsHostCpu> {
    el.expect_no_text()?;
    let mut cpu = CapsHostCpu::default();
    let (mut arch, mut model, mut vendor, mut topology, mut features) =
        (None, None, None, None, None);
    for child in &el.children {
        match child.name.as_str() {
            "arch" => once(&mut arch, child, el)?,
            "model" => once(&mut model, child, el)?,
            "vendor" => once(&mut vendor, child, el)?,
            "topology" => once(&mut topology, child, el)?,
            "features" => once(&mut features, child, el)?,
            "feature" => {
                child.expect_empty()?;
                cpu.features
                    .push(child.required_nonempty_attr("name")?.to_owned());
            }
            "pages" => {
                child.expect_empty()?;
                cpu.page_sizes_kib.push(parse_pages_attr(child)?);
            }
            _ => {
                return Err(el.unexpected(
                    child,
                    &[
                        "arch", "model", "vendor", "topology", "feature", "features", "pages",
                    ],
                ));
            }
        }
    }
    cpu.arch = arch
        .ok_or_else(|| el.missing("arch"))?
        .nonempty_text()?
        .to_owned();
    cpu.model = model
        .map(|m| m.nonempty_text().map(str::to_owned))
        .transpose()?;
    cpu.vendor = vendor
        .map(|m| m.nonempty_text().map(str::to_owned))
        .transpose()?;
    if let Some(t) = topology {
        t.expect_empty()?;
        cpu.topology = Some(CpuTopology {
            sockets: num_attr(t, "sockets")?,
            dies: t.parsed_attr("dies", "a non-negative integer", parse_u32)?,
            cores: num_attr(t, "cores")?,
            threads: num_attr(t, "threads")?,
        });
    }
    if let Some(f) = features {
        f.expect_no_text()?;
        for c in &f.children {
            c.expect_empty()?;
            cpu.flags.push(c.name.clone());
        }
    }
    Ok(cpu)
}

fn parse_migration(el: &Element) -> Result<MigrationFeatures> {
    el.expect_no_text()?;
    let mut m = MigrationFeatures::default();
    let (mut live, mut transports) = (None, None);
    for child in &el.children {
        match child.name.as_str() {
            "live" => once(&mut live, child, el)?,
            "uri_transports" => once(&mut transports, child, el)?,
            _ => return Err(el.unexpected(child, &["live", "uri_transports"])),
        }
    }
    if let Some(l) = live {
        l.expect_empty()?;
        m.live = true;
    }
    if let Some(t) = transports {
        t.expect_no_text()?;
        for c in &t.children {
            if c.name != "uri_transport" {
                return Err(t.unexpected(c, &["uri_transport"]));
            }
            m.uri_transports.push(c.nonempty_text()?.to_owned());
        }
    }
    Ok(m)
}

fn parse_topology(el: &Element) -> Result<Vec<NumaCell>> {
    el.expect_no_text()?;
    let mut cells_el = None;
    for child in &el.children {
        match child.name.as_str() {
            "cells" => once(&mut cells_el, child, el)?,
            _ => return Err(el.unexpected(child, &["cells"])),
        }
    }
    let cells_el = cells_el.ok_or_else(|| el.missing("cells"))?;
    cells_el.expect_no_text()?;
    let mut cells = Vec::new();
    for c in &cells_el.children {
        if c.name != "cell" {
            return Err(cells_el.unexpected(c, &["cell"]));
        }
        cells.push(parse_cell(c)?);
    }
    check_count(cells_el, cells.len())?;
    Ok(cells)
}

fn check_count(el: &Element, actual: usize) -> Result<()> {
    if let Some(num) = el.parsed_attr("num", "a non-negative integer", parse_u32)?
        && usize::try_from(num).ok() != Some(actual)
    {
        return Err(el.error(format!("<{}> says num='{num}' but lists {actual}", el.name)));
    }
    Ok(())
}

fn parse_cell(el: &Element) -> Result<NumaCell> {
    el.expect_no_text()?;
    let mut cell = NumaCell {
        id: num_attr(el, "id")?,
        ..NumaCell::default()
    };
    let (mut memory, mut cpus) = (None, None);
    for child in &el.children {
        match child.name.as_str() {
            "memory" => once(&mut memory, child, el)?,
            "cpus" => once(&mut cpus, child, el)?,
            "pages" => {
                let size_kib = parse_pages_attr(child)?;
                let t = child.trimmed_text()?;
                let count = parse_decimal_u64(t)
                    .ok_or_else(|| child.error(format!("Invalid <pages> count '{t}'")))?;
                cell.pages.push(CellPages { size_kib, count });
            }
            "distances" => {}
            _ => return Err(el.unexpected(child, &["memory", "pages", "distances", "cpus"])),
        }
    }
    cell.memory_kib = memory.map(|m| scaled_kib(m, 1024)).transpose()?;
    if let Some(cpus) = cpus {
        cpus.expect_no_text()?;
        for c in &cpus.children {
            if c.name != "cpu" {
                return Err(cpus.unexpected(c, &["cpu"]));
            }
            c.expect_empty()?;
            let opt = |n: &str| c.parsed_attr(n, "a non-negative integer", parse_u32);
            cell.cpus.push(CellCpu {
                id: num_attr(c, "id")?,
                socket_id: opt("socket_id")?,
                die_id: opt("die_id")?,
                core_id: opt("core_id")?,
                siblings: c.nonempty_attr("siblings").map(str::to_owned),
            });
        }
        check_count(cpus, cell.cpus.len())?;
    }
    Ok(cell)
}

fn parse_secmodel(el: &Element) -> Result<SecModel> {
    el.expect_no_text()?;
    let (mut model, mut doi) = (None, None);
    let mut base_labels = Vec::new();
    for child in &el.children {
        match child.name.as_str() {
            "model" => once(&mut model, child, el)?,
            "doi" => once(&mut doi, child, el)?,
            "baselabel" => {
                base_labels.push((
                    child.required_nonempty_attr("type")?.to_owned(),
                    child.trimmed_text()?.to_owned(),
                ));
            }
            _ => return Err(el.unexpected(child, &["model", "doi", "baselabel"])),
        }
    }
    Ok(SecModel {
        model: model
            .ok_or_else(|| el.missing("model"))?
            .nonempty_text()?
            .to_owned(),
        doi: doi
            .map(|d| d.trimmed_text().map(str::to_owned))
            .transpose()?
            .unwrap_or_default(),
        base_labels,
    })
}

fn parse_machine(el: &Element) -> Result<CapsMachine> {
    Ok(CapsMachine {
        name: el.nonempty_text()?.to_owned(),
        canonical: el.nonempty_attr("canonical").map(str::to_owned),
        max_cpus: el.parsed_attr("maxCpus", "a non-negative integer", parse_u32)?,
    })
}

fn parse_guest(el: &Element) -> Result<CapsGuest> {
    el.expect_no_text()?;
    let (mut os_type, mut arch, mut features) = (None, None, None);
    for child in &el.children {
        match child.name.as_str() {
            "os_type" => once(&mut os_type, child, el)?,
            "arch" => once(&mut arch, child, el)?,
            "features" => once(&mut features, child, el)?,
            _ => return Err(el.unexpected(child, &["os_type", "arch", "features"])),
        }
    }
    let os_type = os_type
        .ok_or_else(|| el.missing("os_type"))?
        .nonempty_text()?
        .to_owned();
    let arch = parse_guest_arch(arch.ok_or_else(|| el.missing("arch"))?)?;
    let mut feats = Vec::new();
    if let Some(f) = features {
        f.expect_no_text()?;
        for c in &f.children {
            c.expect_empty()?;
            feats.push(CapsGuestFeature {
                name: c.name.clone(),
                default_on: c.parsed_attr("default", "on or off", crate::values::parse_on_off)?,
                toggle: c.parsed_attr("toggle", "yes or no", parse_yes_no)?,
            });
        }
    }
    Ok(CapsGuest {
        os_type,
        arch,
        features: feats,
    })
}

fn parse_guest_arch(el: &Element) -> Result<CapsGuestArch> {
    el.expect_no_text()?;
    let mut arch = CapsGuestArch {
        name: el.required_nonempty_attr("name")?.to_owned(),
        ..CapsGuestArch::default()
    };
    let (mut wordsize, mut emulator, mut loader) = (None, None, None);
    for child in &el.children {
        match child.name.as_str() {
            "wordsize" => once(&mut wordsize, child, el)?,
            "emulator" => once(&mut emulator, child, el)?,
            "loader" => once(&mut loader, child, el)?,
            "machine" => arch.machines.push(parse_machine(child)?),
            "domain" => {
                child.expect_no_text()?;
                let mut d = CapsDomain {
                    domain_type: child.required_nonempty_attr("type")?.to_owned(),
                    ..CapsDomain::default()
                };
                let mut emu = None;
                for c in &child.children {
                    match c.name.as_str() {
                        "emulator" => once(&mut emu, c, child)?,
                        "machine" => d.machines.push(parse_machine(c)?),
                        _ => return Err(child.unexpected(c, &["emulator", "machine"])),
                    }
                }
                d.emulator = emu
                    .map(|e| e.nonempty_text().map(str::to_owned))
                    .transpose()?;
                arch.domains.push(d);
            }
            _ => {
                return Err(el.unexpected(
                    child,
                    &["wordsize", "emulator", "loader", "machine", "domain"],
                ));
            }
        }
    }
    arch.wordsize = wordsize.map(text_u32).transpose()?;
    arch.emulator = emulator
        .map(|e| e.nonempty_text().map(str::to_owned))
        .transpose()?;
    arch.loader = loader
        .map(|e| e.nonempty_text().map(str::to_owned))
        .transpose()?;
    Ok(arch)
}

fn pages_tag(name: &'static str, size_kib: u64) -> Tag {
    Tag::new(name).attr("unit", "KiB").attr("size", size_kib)
}

fn write_host(w: &mut Writer, h: &CapsHost, opts: &FormatOptions) {
    w.open_close(Tag::new("host"), |w| {
        if let Some(u) = &h.uuid {
            w.text(Tag::new("uuid"), &u.hyphenated().to_string());
        }
        let c = &h.cpu;
        w.open_close(Tag::new("cpu"), |w| {
            w.text(Tag::new("arch"), &c.arch);
            w.opt_text("model", c.model.as_deref());
            w.opt_text("vendor", c.vendor.as_deref());
            if let Some(t) = &c.topology {
                w.empty(
                    Tag::new("topology")
                        .attr("sockets", t.sockets)
                        .opt("dies", t.dies)
                        .attr("cores", t.cores)
                        .attr("threads", t.threads),
                );
            }
            for f in &c.features {
                w.empty(Tag::new("feature").attr("name", f));
            }
            if !c.flags.is_empty() {
                w.open_close(Tag::new("features"), |w| {
                    for f in &c.flags {
                        w.empty(Tag::named(f));
                    }
                });
            }
            for p in &c.page_sizes_kib {
                w.empty(pages_tag("pages", *p));
            }
        });
        if let Some(pm) = &h.power_management {
            w.element(Tag::new("power_management"), |w| {
                for p in pm {
                    w.empty(Tag::named(p));
                }
            });
        }
        if let Some(i) = h.iommu {
            w.empty(Tag::new("iommu").attr("support", yes_no(i)));
        }
        if let Some(m) = &h.migration {
            w.element(Tag::new("migration_features"), |w| {
                if m.live {
                    w.empty(Tag::new("live"));
                }
                if !m.uri_transports.is_empty() {
                    w.open_close(Tag::new("uri_transports"), |w| {
                        for t in &m.uri_transports {
                            w.text(Tag::new("uri_transport"), t);
                        }
                    });
                }
            });
        }
        if let Some(cells) = &h.cells {
            w.open_close(Tag::new("topology"), |w| {
                w.element(Tag::new("cells").attr("num", cells.len()), |w| {
                    for cell in cells {
                        write_cell(w, cell, opts);
                    }
                });
            });
        }
        for s in &h.secmodels {
            w.open_close(Tag::new("secmodel"), |w| {
                w.text(Tag::new("model"), &s.model);
                w.text(Tag::new("doi"), &s.doi);
                for (ty, label) in &s.base_labels {
                    w.text(Tag::new("baselabel").attr("type", ty), label);
                }
            });
        }
    });
}

fn write_cell(w: &mut Writer, cell: &NumaCell, opts: &FormatOptions) {
    w.open_close(Tag::new("cell").attr("id", cell.id), |w| {
        if let Some(m) = cell.memory_kib {
            let tag = if opts.legacy_style() {
                Tag::new("memory")
            } else {
                Tag::new("memory").attr("unit", "KiB")
            };
            w.text(tag, &m.to_string());
        }
        for p in &cell.pages {
            w.text(pages_tag("pages", p.size_kib), &p.count.to_string());
        }
        w.element(Tag::new("cpus").attr("num", cell.cpus.len()), |w| {
            for c in &cell.cpus {
                w.empty(
                    Tag::new("cpu")
                        .attr("id", c.id)
                        .opt("socket_id", c.socket_id)
                        .opt("die_id", c.die_id)
                        .opt("core_id", c.core_id)
                        .opt("siblings", c.siblings.as_deref()),
                );
            }
        });
    });
}

fn write_machine(w: &mut Writer, m: &CapsMachine) {
    w.text(
        Tag::new("machine")
            .opt("maxCpus", m.max_cpus)
            .opt("canonical", m.canonical.as_deref()),
        &m.name,
    );
}

fn write_guest(w: &mut Writer, g: &CapsGuest, opts: &FormatOptions) {
    w.open_close(Tag::new("guest"), |w| {
        w.text(Tag::new("os_type"), &g.os_type);
        let a = &g.arch;
        w.open_close(Tag::new("arch").attr("name", &a.name), |w| {
            if let Some(ws) = a.wordsize {
                w.text(Tag::new("wordsize"), &ws.to_string());
            }
            w.opt_text("emulator", a.emulator.as_deref());
            w.opt_text("loader", a.loader.as_deref());
            for m in &a.machines {
                write_machine(w, m);
            }
            for d in &a.domains {
                let tag = Tag::new("domain").attr("type", &d.domain_type);
                let body = |w: &mut Writer| {
                    w.opt_text("emulator", d.emulator.as_deref());
                    for m in &d.machines {
                        write_machine(w, m);
                    }
                };
                if opts.legacy_style() {
                    w.open_close(tag, body)
                } else {
                    w.element(tag, body)
                }
            }
        });
        if !g.features.is_empty() {
            w.open_close(Tag::new("features"), |w| {
                for f in &g.features {
                    w.empty(
                        Tag::named(&f.name)
                            .opt("default", f.default_on.map(crate::values::on_off))
                            .opt("toggle", f.toggle.map(yes_no)),
                    );
                }
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const XEN: &str = "<capabilities>

  <host>
    <cpu>
      <arch>i686</arch>
      <features>
        <vmx/>
      </features>
    </cpu>
    <migration_features>
      <live/>
      <uri_transports>
        <uri_transport>xenmigr</uri_transport>
      </uri_transports>
    </migration_features>
  </host>

  <guest>
    <os_type>hvm</os_type>
    <arch name='i686'>
      <wordsize>32</wordsize>
      <emulator>/usr/lib/xen/bin/qemu-dm</emulator>
      <loader>/usr/lib/xen/boot/hvmloader</loader>
      <machine>xenfv</machine>
      <domain type='xen'>
      </domain>
    </arch>
    <features>
      <pae/>
      <acpi default='on' toggle='yes'/>
    </features>
  </guest>

</capabilities>
";

    #[test]
    fn legacy_output_is_byte_exact() {
        let caps = Capabilities::parse(XEN).unwrap();
        assert_eq!(caps.host.cpu.flags, ["vmx"]);
        assert_eq!(caps.guests[0].features[1].default_on, Some(true));
        assert_eq!(caps.to_xml_with(&FormatOptions::legacy()), XEN);
        assert_eq!(Capabilities::parse(&caps.to_xml()).unwrap(), caps);
        assert_eq!(caps.guests_for("hvm", "i686").count(), 1);
    }

    #[test]
    fn errors() {
        for (xml, want) in [
            ("<capabilities/>", "Missing <host>"),
            ("<capabilities><host/></capabilities>", "Missing <cpu>"),
            (
                "<capabilities><host><cpu><arch>x</arch></cpu></host><guest><arch name='x'/></guest></capabilities>",
                "Missing <os_type>",
            ),
            (
                "<capabilities><host><cpu><arch>x</arch></cpu><gpu/></host></capabilities>",
                "Unexpected element <gpu>",
            ),
            (
                "<capabilities><host><cpu><arch>x</arch></cpu><topology><cells num='2'><cell id='0'/></cells></topology></host></capabilities>",
                "num='2'",
            ),
        ] {
            let err = Capabilities::parse(xml).unwrap_err();
            assert!(err.to_string().contains(want), "{xml}: {err}");
        }
    }
}
