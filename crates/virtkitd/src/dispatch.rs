//! One call of the REMOTE program: decode its arguments, call the virtkit API on the client's
//! connection, encode the result. The procedures are those of `virtkit_rpc::PROCEDURES`; an
//! argument record that does not decode is an error reply, not a dropped client (libvirt does
//! the same).

use std::sync::{Arc, RwLock};

use virtkit::{Connect, Domain, ErrorCode, Network, Registry};
use virtkit_rpc::xdr::{Decoder, Encoder};
use virtkit_rpc::{
    AUTH_NONE, CONNECT_RO, CPUMAP_MAX, ERROR_DOMAIN_RPC, FEATURE_PROGRAM_KEEPALIVE, LIST_MAX,
    Procedure, RemoteError, STRING_MAX, WireDomain, WireNetwork,
};

/// libvirt's `VIR_ERR_RPC`.
const ERR_RPC: i32 = 39;

/// What one client's calls share: its connection (after CONNECT_OPEN) and which socket it came
/// through.
pub struct Session {
    conn: RwLock<Option<Connect>>,
    read_only: bool,
    /// Whether the transport is secure (a unix socket, TLS): CONNECT_IS_SECURE.
    secure: bool,
    registry: Arc<Registry>,
}

type Reply = Result<Vec<u8>, RemoteError>;

fn api_error(e: virtkit::Error) -> RemoteError {
    RemoteError::new(e.code as i32, e.domain as i32, e.message)
}

fn decode_error(e: virtkit_rpc::Error) -> RemoteError {
    RemoteError::new(
        ERR_RPC,
        ERROR_DOMAIN_RPC,
        format!("Unable to decode message payload: {e}"),
    )
}

fn done(e: Encoder) -> Reply {
    Ok(e.into_bytes())
}

fn unit() -> Reply {
    Ok(Vec::new())
}

fn wire_domain(d: &Domain) -> WireDomain {
    WireDomain {
        name: d.name(),
        uuid: *d.uuid().as_bytes(),
        id: d.id(),
    }
}

fn wire_network(n: &Network) -> WireNetwork {
    WireNetwork {
        name: n.name().to_string(),
        uuid: *n.uuid().as_bytes(),
    }
}

fn ret_domain(d: &Domain) -> Reply {
    let mut e = Encoder::new();
    wire_domain(d).encode(&mut e);
    done(e)
}

fn ret_network(n: &Network) -> Reply {
    let mut e = Encoder::new();
    wire_network(n).encode(&mut e);
    done(e)
}

fn ret_i32(v: i32) -> Reply {
    let mut e = Encoder::new();
    e.i32(v);
    done(e)
}

fn ret_u64(v: u64) -> Reply {
    let mut e = Encoder::new();
    e.u64(v);
    done(e)
}

fn ret_string(s: &str) -> Reply {
    let mut e = Encoder::new();
    e.string(s);
    done(e)
}

fn ret_names(names: &[String]) -> Reply {
    let mut e = Encoder::new();
    e.u32(names.len() as u32);
    for n in names {
        e.string(n);
    }
    done(e)
}

/// rpcgen's `char x<N>`: a length word, then one word per character, with the terminating NUL
/// libvirt's daemon sends.
fn chars(e: &mut Encoder, s: &str) {
    let bytes = s.as_bytes();
    e.u32(bytes.len() as u32 + 1);
    for b in bytes {
        e.char_word(*b);
    }
    e.char_word(0);
}

/// Flags a procedure accepts only as zero (the API it maps to has none).
fn no_flags(flags: u32, api: &str) -> Result<(), RemoteError> {
    if flags != 0 {
        return Err(RemoteError::new(
            ErrorCode::InvalidArg as i32,
            0,
            ErrorCode::InvalidArg.message_with(&format!(
                "unsupported flags (0x{flags:x}) in function {api}"
            )),
        ));
    }
    Ok(())
}

/// The read-only refusal of a `...Flags` procedure served by the operation without flags: it
/// names the API the client called, as libvirt's does (the core would name the other).
fn refuse_if_read_only(conn: &Connect, api: &str) -> Result<(), RemoteError> {
    if conn.is_read_only() {
        return Err(RemoteError::new(
            ErrorCode::OperationDenied as i32,
            0,
            ErrorCode::OperationDenied.message_with(&format!("read only access prevents {api}")),
        ));
    }
    Ok(())
}

impl Session {
    /// A session of a client of the read-write (`read_only` false) or read-only socket.
    pub fn new(read_only: bool, secure: bool, registry: Arc<Registry>) -> Session {
        Session {
            conn: RwLock::new(None),
            read_only,
            secure,
            registry,
        }
    }

    fn conn(&self) -> Result<Connect, RemoteError> {
        self.conn
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| {
                RemoteError::new(
                    ErrorCode::InternalError as i32,
                    ERROR_DOMAIN_RPC,
                    "internal error: connection not open",
                )
            })
    }

    /// Runs one call; the reply payload, or the error to send.
    pub fn call(&self, proc: Procedure, payload: &[u8]) -> Reply {
        let mut d = Decoder::new(payload);
        let reply = self.run(proc, &mut d);
        // Trailing bytes after the arguments are a malformed call (checked once the arguments
        // were read; the reply of a call that failed on its own is kept).
        match reply {
            Ok(r) => {
                d.finish().map_err(decode_error)?;
                Ok(r)
            }
            Err(e) => Err(e),
        }
    }

    fn dom(&self, d: &mut Decoder<'_>) -> Result<Domain, RemoteError> {
        let w = WireDomain::decode(d).map_err(decode_error)?;
        Ok(self.conn()?.domain_handle(&w.name, w.uuid, w.id))
    }

    fn net(&self, d: &mut Decoder<'_>) -> Result<Network, RemoteError> {
        let w = WireNetwork::decode(d).map_err(decode_error)?;
        Ok(self.conn()?.network_handle(&w.name, w.uuid))
    }

    fn run(&self, proc: Procedure, d: &mut Decoder<'_>) -> Reply {
        use Procedure as P;
        let s = |d: &mut Decoder<'_>| d.string(STRING_MAX).map_err(decode_error);
        let u32_ = |d: &mut Decoder<'_>| d.u32().map_err(decode_error);
        let i32_ = |d: &mut Decoder<'_>| d.i32().map_err(decode_error);
        let u64_ = |d: &mut Decoder<'_>| d.u64().map_err(decode_error);
        let uuid = |d: &mut Decoder<'_>| d.opaque_fixed::<16>().map_err(decode_error);
        match proc {
            P::AuthList => {
                let mut e = Encoder::new();
                e.u32(1).i32(AUTH_NONE);
                done(e)
            }
            P::ConnectOpen => {
                let name = d.opt_string(STRING_MAX).map_err(decode_error)?;
                let flags = u32_(d)?;
                if self
                    .conn
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .is_some()
                {
                    return Err(RemoteError::new(
                        ErrorCode::InternalError as i32,
                        ERROR_DOMAIN_RPC,
                        "internal error: connection already open",
                    ));
                }
                let read_only = self.read_only || flags & CONNECT_RO != 0;
                let c = Connect::open_with(
                    name.as_deref().filter(|n| !n.is_empty()),
                    read_only,
                    &self.registry,
                )
                .map_err(api_error)?;
                *self.conn.write().unwrap_or_else(|p| p.into_inner()) = Some(c);
                unit()
            }
            P::ConnectClose => {
                *self.conn.write().unwrap_or_else(|p| p.into_inner()) = None;
                unit()
            }
            P::ConnectSupportsFeature => {
                let feature = i32_(d)?;
                ret_i32(i32::from(feature == FEATURE_PROGRAM_KEEPALIVE))
            }
            P::ConnectGetUri => ret_string(self.conn()?.uri()),
            P::ConnectIsSecure => ret_i32(i32::from(self.secure)),
            P::ConnectGetLibVersion => ret_u64(virtkit::library_version()),
            P::ConnectGetType => ret_string(&self.conn()?.get_type().map_err(api_error)?),
            P::ConnectGetVersion => ret_u64(self.conn()?.version().map_err(api_error)?),
            P::ConnectGetHostname => ret_string(&self.conn()?.hostname().map_err(api_error)?),
            P::ConnectGetCapabilities => {
                ret_string(&self.conn()?.capabilities().map_err(api_error)?)
            }
            P::ConnectGetMaxVcpus => {
                let ty = d.opt_string(STRING_MAX).map_err(decode_error)?;
                let n = self
                    .conn()?
                    .max_vcpus(ty.as_deref().unwrap_or(""))
                    .map_err(api_error)?;
                ret_i32(n)
            }
            P::NodeGetInfo => {
                let n = self.conn()?.node_info().map_err(api_error)?;
                let mut e = Encoder::new();
                let model = n.model.as_bytes();
                for i in 0..32 {
                    e.char_word(model.get(i).copied().unwrap_or(0));
                }
                e.u64(n.memory_kib)
                    .i32(n.cpus as i32)
                    .i32(n.mhz as i32)
                    .i32(n.nodes as i32)
                    .i32(n.sockets as i32)
                    .i32(n.cores as i32)
                    .i32(n.threads as i32);
                done(e)
            }
            P::NodeGetSecurityModel => {
                let (model, doi) = self.conn()?.security_model().map_err(api_error)?;
                let mut e = Encoder::new();
                chars(&mut e, &model);
                chars(&mut e, &doi);
                done(e)
            }
            P::ConnectListDomains => {
                let max = i32_(d)?;
                let ids = self.conn()?.list_domains().map_err(api_error)?;
                let n = ids.len().min(max.max(0) as usize).min(LIST_MAX);
                let mut e = Encoder::new();
                e.u32(n as u32);
                for id in &ids[..n] {
                    e.i32(*id);
                }
                done(e)
            }
            P::ConnectNumOfDomains => ret_i32(self.conn()?.num_of_domains().map_err(api_error)?),
            P::ConnectListDefinedDomains => {
                let max = i32_(d)?;
                let mut names = self.conn()?.list_defined_domains().map_err(api_error)?;
                names.truncate(max.max(0) as usize);
                ret_names(&names)
            }
            P::ConnectNumOfDefinedDomains => {
                ret_i32(self.conn()?.num_of_defined_domains().map_err(api_error)?)
            }
            P::ConnectListNetworks => {
                let max = i32_(d)?;
                let mut names = self.conn()?.list_networks().map_err(api_error)?;
                names.truncate(max.max(0) as usize);
                ret_names(&names)
            }
            P::ConnectNumOfNetworks => ret_i32(self.conn()?.num_of_networks().map_err(api_error)?),
            P::ConnectListDefinedNetworks => {
                let max = i32_(d)?;
                let mut names = self.conn()?.list_defined_networks().map_err(api_error)?;
                names.truncate(max.max(0) as usize);
                ret_names(&names)
            }
            P::ConnectNumOfDefinedNetworks => {
                ret_i32(self.conn()?.num_of_defined_networks().map_err(api_error)?)
            }
            P::ConnectListAllDomains => {
                let need = i32_(d)?;
                let flags = u32_(d)?;
                let doms = crate::listing::all_domains(&self.conn()?, flags).map_err(api_error)?;
                let mut e = Encoder::new();
                if need != 0 {
                    e.u32(doms.len() as u32);
                    for dom in &doms {
                        wire_domain(dom).encode(&mut e);
                    }
                } else {
                    e.u32(0);
                }
                e.u32(doms.len() as u32);
                done(e)
            }
            P::ConnectListAllNetworks => {
                let need = i32_(d)?;
                let flags = u32_(d)?;
                let nets = crate::listing::all_networks(&self.conn()?, flags).map_err(api_error)?;
                let mut e = Encoder::new();
                if need != 0 {
                    e.u32(nets.len() as u32);
                    for n in &nets {
                        wire_network(n).encode(&mut e);
                    }
                } else {
                    e.u32(0);
                }
                e.u32(nets.len() as u32);
                done(e)
            }
            P::DomainLookupById => {
                let id = i32_(d)?;
                ret_domain(&self.conn()?.lookup_domain_by_id(id).map_err(api_error)?)
            }
            P::DomainLookupByName => {
                let name = s(d)?;
                ret_domain(
                    &self
                        .conn()?
                        .lookup_domain_by_name(&name)
                        .map_err(api_error)?,
                )
            }
            P::DomainLookupByUuid => {
                let u = uuid::Uuid::from_bytes(uuid(d)?);
                ret_domain(&self.conn()?.lookup_domain_by_uuid(&u).map_err(api_error)?)
            }
            P::DomainCreateXml => {
                let xml = s(d)?;
                let flags = u32_(d)?;
                ret_domain(
                    &self
                        .conn()?
                        .create_domain_xml(&xml, flags)
                        .map_err(api_error)?,
                )
            }
            P::DomainDefineXml => {
                let xml = s(d)?;
                ret_domain(&self.conn()?.define_domain_xml(&xml).map_err(api_error)?)
            }
            P::DomainDefineXmlFlags => {
                let xml = s(d)?;
                refuse_if_read_only(&self.conn()?, "virDomainDefineXMLFlags")?;
                no_flags(u32_(d)?, "virDomainDefineXMLFlags")?;
                ret_domain(&self.conn()?.define_domain_xml(&xml).map_err(api_error)?)
            }
            P::DomainUndefine => {
                self.dom(d)?.undefine().map_err(api_error)?;
                unit()
            }
            P::DomainUndefineFlags => {
                let dom = self.dom(d)?;
                refuse_if_read_only(dom.connect(), "virDomainUndefineFlags")?;
                no_flags(u32_(d)?, "virDomainUndefineFlags")?;
                dom.undefine().map_err(api_error)?;
                unit()
            }
            P::DomainCreate => {
                self.dom(d)?.create().map_err(api_error)?;
                unit()
            }
            P::DomainCreateWithFlags => {
                let dom = self.dom(d)?;
                refuse_if_read_only(dom.connect(), "virDomainCreateWithFlags")?;
                no_flags(u32_(d)?, "virDomainCreateWithFlags")?;
                dom.create().map_err(api_error)?;
                ret_domain(&dom)
            }
            P::DomainShutdown => {
                self.dom(d)?.shutdown().map_err(api_error)?;
                unit()
            }
            P::DomainReboot => {
                let dom = self.dom(d)?;
                dom.reboot(u32_(d)?).map_err(api_error)?;
                unit()
            }
            P::DomainDestroy => {
                self.dom(d)?.destroy().map_err(api_error)?;
                unit()
            }
            P::DomainDestroyFlags => {
                let dom = self.dom(d)?;
                refuse_if_read_only(dom.connect(), "virDomainDestroyFlags")?;
                no_flags(u32_(d)?, "virDomainDestroyFlags")?;
                dom.destroy().map_err(api_error)?;
                unit()
            }
            P::DomainSuspend => {
                self.dom(d)?.suspend().map_err(api_error)?;
                unit()
            }
            P::DomainResume => {
                self.dom(d)?.resume().map_err(api_error)?;
                unit()
            }
            P::DomainSave => {
                let dom = self.dom(d)?;
                dom.save(&s(d)?).map_err(api_error)?;
                unit()
            }
            P::DomainRestore => {
                let path = s(d)?;
                self.conn()?.restore_domain(&path).map_err(api_error)?;
                unit()
            }
            P::DomainCoreDump => {
                let dom = self.dom(d)?;
                let path = s(d)?;
                dom.core_dump(&path, u32_(d)?).map_err(api_error)?;
                unit()
            }
            P::DomainGetInfo => {
                let i = self.dom(d)?.info().map_err(api_error)?;
                let mut e = Encoder::new();
                e.u32(i.state as u32)
                    .u64(i.max_mem_kib)
                    .u64(i.memory_kib)
                    .u32(i.nr_virt_cpu.min(u32::from(u16::MAX)))
                    .u64(i.cpu_time_ns);
                done(e)
            }
            P::DomainGetState => {
                let dom = self.dom(d)?;
                let _flags = u32_(d)?;
                let (state, reason) = dom.state().map_err(api_error)?;
                let mut e = Encoder::new();
                e.i32(state as i32).i32(reason);
                done(e)
            }
            P::DomainIsActive => {
                let dom = self.dom(d)?;
                let found = self
                    .conn()?
                    .lookup_domain_by_uuid(&dom.uuid())
                    .map_err(api_error)?;
                ret_i32(i32::from(found.id() >= 0))
            }
            P::DomainGetXmlDesc => {
                let dom = self.dom(d)?;
                ret_string(&dom.xml_desc(u32_(d)?).map_err(api_error)?)
            }
            P::DomainGetOsType => ret_string(&self.dom(d)?.os_type().map_err(api_error)?),
            P::DomainGetMaxMemory => ret_u64(self.dom(d)?.max_memory().map_err(api_error)?),
            P::DomainSetMaxMemory => {
                let dom = self.dom(d)?;
                dom.set_max_memory(u64_(d)?).map_err(api_error)?;
                unit()
            }
            P::DomainSetMemory => {
                let dom = self.dom(d)?;
                dom.set_memory(u64_(d)?).map_err(api_error)?;
                unit()
            }
            P::DomainSetMemoryFlags => {
                let dom = self.dom(d)?;
                let kib = u64_(d)?;
                dom.set_memory_flags(kib, u32_(d)?).map_err(api_error)?;
                unit()
            }
            P::DomainSetVcpus => {
                let dom = self.dom(d)?;
                dom.set_vcpus(u32_(d)?).map_err(api_error)?;
                unit()
            }
            P::DomainPinVcpu => {
                let dom = self.dom(d)?;
                let vcpu = u32_(d)?;
                let map = d.opaque(CPUMAP_MAX).map_err(decode_error)?;
                dom.pin_vcpu(vcpu, map).map_err(api_error)?;
                unit()
            }
            P::DomainGetVcpus => {
                let dom = self.dom(d)?;
                let maxinfo = i32_(d)?.max(0) as usize;
                let maplen = i32_(d)?.max(0) as usize;
                if maplen > CPUMAP_MAX {
                    return Err(RemoteError::new(
                        ErrorCode::InvalidArg as i32,
                        0,
                        ErrorCode::InvalidArg.message_with("maxinfo * maplen > REMOTE_CPUMAPS_MAX"),
                    ));
                }
                let mut vcpus = dom.vcpus().map_err(api_error)?;
                vcpus.truncate(maxinfo);
                let mut e = Encoder::new();
                e.u32(vcpus.len() as u32);
                for v in &vcpus {
                    e.u32(v.number)
                        .i32(v.state as i32)
                        .u64(v.cpu_time_ns)
                        .i32(v.cpu);
                }
                let mut maps = Vec::with_capacity(vcpus.len() * maplen);
                for v in &vcpus {
                    let mut m = v.cpumap.clone();
                    m.resize(maplen, 0);
                    maps.extend_from_slice(&m);
                }
                e.opaque(&maps);
                done(e)
            }
            P::DomainGetAutostart => {
                ret_i32(i32::from(self.dom(d)?.autostart().map_err(api_error)?))
            }
            P::DomainSetAutostart => {
                let dom = self.dom(d)?;
                dom.set_autostart(i32_(d)? != 0).map_err(api_error)?;
                unit()
            }
            P::DomainAttachDevice => {
                let dom = self.dom(d)?;
                dom.attach_device(&s(d)?).map_err(api_error)?;
                unit()
            }
            P::DomainDetachDevice => {
                let dom = self.dom(d)?;
                dom.detach_device(&s(d)?).map_err(api_error)?;
                unit()
            }
            P::DomainIsPersistent => {
                ret_i32(i32::from(self.dom(d)?.is_persistent().map_err(api_error)?))
            }
            P::DomainHasManagedSaveImage => {
                let dom = self.dom(d)?;
                let _flags = u32_(d)?;
                ret_i32(i32::from(dom.has_managed_save_image().map_err(api_error)?))
            }
            P::DomainGetMessages => {
                let dom = self.dom(d)?;
                let mut msgs = dom.messages(u32_(d)?).map_err(api_error)?;
                msgs.truncate(virtkit_rpc::MESSAGES_MAX);
                ret_names(&msgs)
            }
            P::DomainGetSecurityLabel => {
                let (label, enforcing) = self.dom(d)?.security_label().map_err(api_error)?;
                let mut e = Encoder::new();
                chars(&mut e, &label);
                e.i32(i32::from(enforcing));
                done(e)
            }
            P::ConnectDomainXmlFromNative => {
                let format = s(d)?;
                let config = s(d)?;
                no_flags(u32_(d)?, "virConnectDomainXMLFromNative")?;
                ret_string(
                    &self
                        .conn()?
                        .domain_xml_from_native(&format, &config)
                        .map_err(api_error)?,
                )
            }
            P::ConnectDomainXmlToNative => {
                let format = s(d)?;
                let xml = s(d)?;
                no_flags(u32_(d)?, "virConnectDomainXMLToNative")?;
                ret_string(
                    &self
                        .conn()?
                        .domain_xml_to_native(&format, &xml)
                        .map_err(api_error)?,
                )
            }
            P::NetworkLookupByName => {
                let name = s(d)?;
                ret_network(
                    &self
                        .conn()?
                        .lookup_network_by_name(&name)
                        .map_err(api_error)?,
                )
            }
            P::NetworkLookupByUuid => {
                let u = uuid::Uuid::from_bytes(uuid(d)?);
                ret_network(&self.conn()?.lookup_network_by_uuid(&u).map_err(api_error)?)
            }
            P::NetworkCreateXml => {
                let xml = s(d)?;
                ret_network(&self.conn()?.create_network_xml(&xml).map_err(api_error)?)
            }
            P::NetworkDefineXml => {
                let xml = s(d)?;
                ret_network(&self.conn()?.define_network_xml(&xml).map_err(api_error)?)
            }
            P::NetworkUndefine => {
                self.net(d)?.undefine().map_err(api_error)?;
                unit()
            }
            P::NetworkCreate => {
                self.net(d)?.create().map_err(api_error)?;
                unit()
            }
            P::NetworkDestroy => {
                self.net(d)?.destroy().map_err(api_error)?;
                unit()
            }
            P::NetworkGetXmlDesc => {
                let net = self.net(d)?;
                ret_string(&net.xml_desc(u32_(d)?).map_err(api_error)?)
            }
            P::NetworkGetBridgeName => ret_string(&self.net(d)?.bridge_name().map_err(api_error)?),
            P::NetworkGetAutostart => {
                ret_i32(i32::from(self.net(d)?.autostart().map_err(api_error)?))
            }
            P::NetworkSetAutostart => {
                let net = self.net(d)?;
                net.set_autostart(i32_(d)? != 0).map_err(api_error)?;
                unit()
            }
            P::NetworkIsActive => ret_i32(i32::from(self.net(d)?.is_active().map_err(api_error)?)),
            P::NetworkIsPersistent => {
                ret_i32(i32::from(self.net(d)?.is_persistent().map_err(api_error)?))
            }
        }
    }
}

/// The error reply to a procedure virtkitd does not serve: libvirt's own wording and code.
pub fn unknown_procedure(number: i32) -> RemoteError {
    RemoteError::new(
        ErrorCode::NoSupport as i32,
        ERROR_DOMAIN_RPC,
        ErrorCode::NoSupport.message_with(&format!("unknown procedure: {number}")),
    )
}

/// The error reply to a call of another program or version.
pub fn unknown_program(program: u32, version: u32) -> RemoteError {
    RemoteError::new(
        ERR_RPC,
        ERROR_DOMAIN_RPC,
        format!("cannot find program {program} version {version}"),
    )
}
