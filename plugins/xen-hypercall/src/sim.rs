//! A simulated hypervisor for tests: it decodes the requests' real byte encodings (command,
//! interface version, arguments) and answers by writing the real encodings of its replies, as
//! Xen would into the caller's buffers.

use std::io;
use std::sync::Mutex;

use crate::Hypervisor;
use crate::codec::{self, DomInfo, DomctlBuf, PhysInfo, SysctlBuf, VcpuInfo};
use crate::layout::{self, v4_17 as l};

/// One simulated domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimDomain {
    /// What getdomaininfo says.
    pub info: DomInfo,
    /// Its VCPUs.
    pub vcpus: Vec<VcpuInfo>,
    /// The hard affinity last set per VCPU.
    pub affinity: Vec<Vec<u8>>,
}

/// The simulated host.
pub struct SimHypervisor {
    /// `major << 16 | minor`.
    pub version: u32,
    /// The host.
    pub phys: PhysInfo,
    /// Domains, by id.
    pub domains: Mutex<Vec<SimDomain>>,
}

fn einval() -> io::Error {
    io::Error::from_raw_os_error(nix::libc::EINVAL)
}

fn esrch() -> io::Error {
    io::Error::from_raw_os_error(nix::libc::ESRCH)
}

impl SimHypervisor {
    /// Xen 4.17 on an 8-CPU, 16 GiB host with domain 0 and `guests` running guests.
    pub fn new(guests: u16) -> SimHypervisor {
        let dom = |id: u16, pages: u64, vcpus: u32| SimDomain {
            info: DomInfo {
                domid: id,
                flags: layout::DOMINF_RUNNING,
                tot_pages: pages,
                max_pages: pages,
                cpu_time: 1_000_000_000 * u64::from(id + 1),
                nr_online_vcpus: vcpus,
                max_vcpu_id: vcpus - 1,
                handle: core::array::from_fn(|i| if i == 15 { id as u8 } else { 0x5e }),
            },
            vcpus: (0..vcpus)
                .map(|v| VcpuInfo {
                    vcpu: v,
                    online: true,
                    blocked: false,
                    running: true,
                    cpu_time: 500_000_000,
                    cpu: v % 8,
                })
                .collect(),
            affinity: vec![vec![0xff]; vcpus as usize],
        };
        let mut domains = vec![dom(0, 1_048_576, 2)];
        domains[0].info.handle = [0; 16];
        domains.extend((1..=guests).map(|id| dom(id, 65_536, 1)));
        SimHypervisor {
            version: (4 << 16) | 17,
            phys: PhysInfo {
                threads_per_core: 2,
                cores_per_socket: 4,
                nr_cpus: 8,
                nr_nodes: 1,
                cpu_khz: 2_400_000,
                total_pages: 4_194_304,
            },
            domains: Mutex::new(domains),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<SimDomain>> {
        self.domains.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Hypervisor for SimHypervisor {
    fn xen_version(&self) -> io::Result<u32> {
        Ok(self.version)
    }

    fn sysctl(&self, req: &mut SysctlBuf, buf: Option<(&mut [u8], usize)>) -> io::Result<()> {
        let (cmd, ifv) = codec::sysctl_header(req);
        if ifv != l::SYSCTL_VERSION {
            return Err(io::Error::from_raw_os_error(nix::libc::EACCES));
        }
        match cmd {
            layout::SYSCTL_PHYSINFO => {
                codec::physinfo_encode(req, &self.phys);
                Ok(())
            }
            layout::SYSCTL_GETDOMAININFOLIST => {
                let (first, max) = codec::infolist_args(req);
                let Some((buf, at)) = buf else {
                    return Err(einval());
                };
                if at != codec::INFOLIST_HANDLE || buf.len() < codec::infolist_buffer_len(max) {
                    return Err(einval());
                }
                let doms = self.lock();
                let mut n = 0;
                for d in doms
                    .iter()
                    .filter(|d| d.info.domid >= first)
                    .take(max as usize)
                {
                    codec::dominfo_encode(buf, n, &d.info);
                    n += 1;
                }
                codec::infolist_set_count(req, n as u32);
                Ok(())
            }
            _ => Err(einval()),
        }
    }

    fn domctl(&self, req: &mut DomctlBuf, buf: Option<(&mut [u8], usize)>) -> io::Result<()> {
        let (cmd, ifv, domid) = codec::domctl_header(req);
        if ifv != l::DOMCTL_VERSION {
            return Err(io::Error::from_raw_os_error(nix::libc::EACCES));
        }
        let mut doms = self.lock();
        let Some(i) = doms.iter().position(|d| d.info.domid == domid) else {
            return Err(esrch());
        };
        match cmd {
            layout::DOMCTL_PAUSE => {
                doms[i].info.flags =
                    (doms[i].info.flags & !layout::DOMINF_RUNNING) | layout::DOMINF_PAUSED;
            }
            layout::DOMCTL_UNPAUSE => {
                doms[i].info.flags =
                    (doms[i].info.flags & !layout::DOMINF_PAUSED) | layout::DOMINF_RUNNING;
            }
            layout::DOMCTL_DESTROY => {
                doms.remove(i);
            }
            layout::DOMCTL_MAX_MEM => {
                doms[i].info.max_pages = codec::max_mem_arg(req) / 4;
            }
            layout::DOMCTL_MAX_VCPUS => {
                let max = codec::max_vcpus_arg(req);
                if max == 0 || max > 128 {
                    return Err(einval());
                }
                let d = &mut doms[i];
                d.info.nr_online_vcpus = max;
                d.info.max_vcpu_id = max - 1;
                let template = d.vcpus[0];
                d.vcpus.resize(max as usize, template);
                for (n, v) in d.vcpus.iter_mut().enumerate() {
                    v.vcpu = n as u32;
                }
                d.affinity.resize(max as usize, vec![0xff]);
            }
            layout::DOMCTL_GETVCPUINFO => {
                let vcpu = u32::from_ne_bytes(req[16..20].try_into().map_err(|_| einval())?);
                let v = *doms[i].vcpus.get(vcpu as usize).ok_or_else(esrch)?;
                codec::vcpuinfo_encode(req, &v);
            }
            layout::DOMCTL_GETVCPUAFFINITY => {
                let (vcpu, _, bits) = codec::affinity_args(req);
                let Some((map, at)) = buf else {
                    return Err(einval());
                };
                let bytes = (bits as usize).div_ceil(8);
                let have = doms[i].affinity.get(vcpu as usize).ok_or_else(einval)?;
                if at != codec::AFFINITY_HANDLE || map.len() < bytes {
                    return Err(einval());
                }
                map[..bytes].fill(0);
                let n = have.len().min(bytes);
                map[..n].copy_from_slice(&have[..n]);
            }
            layout::DOMCTL_SETVCPUAFFINITY => {
                let (vcpu, flags, bits) = codec::affinity_args(req);
                let Some((map, at)) = buf else {
                    return Err(einval());
                };
                if flags != layout::VCPUAFFINITY_HARD || at != codec::AFFINITY_HANDLE {
                    return Err(einval());
                }
                let bytes = (bits as usize).div_ceil(8);
                if map.len() < bytes || vcpu as usize >= doms[i].affinity.len() {
                    return Err(einval());
                }
                doms[i].affinity[vcpu as usize] = map[..bytes].to_vec();
            }
            _ => return Err(einval()),
        }
        Ok(())
    }
}
