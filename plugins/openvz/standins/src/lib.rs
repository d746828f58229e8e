//! Stand-ins for OpenVZ's `vzctl` and `vzlist`, for hosts without an OpenVZ kernel.
//!
//! They follow the real tools' argument syntax, messages, exit codes (vzctl's `vzerror.h`) and
//! output formats, and keep a host's state as files under the directory named by
//! `VIRTKIT_OPENVZ_ROOT` (the openvz driver hands its sandbox root to the tools that way):
//!
//! | path under the root | what |
//! |---|---|
//! | `etc/vz/vz.conf` | global config: `DEF_OSTEMPLATE`, `CONFIGFILE` (optional) |
//! | `etc/vz/conf/<CTID>.conf` | container configs, written as vzctl writes them; `destroy` renames one to `<CTID>.conf.destroyed` |
//! | `etc/vz/conf/ve-<NAME>.conf-sample` | sample configs `create` starts from |
//! | `vz/template/cache/<TEMPLATE>.tar.gz` | OS template caches (`create` needs the file, reads nothing of it) |
//! | `vz/private/<CTID>/` | private areas |
//! | `proc/vz/` | the kernel's side: `proc/vz/standin/<CTID>` holds `running` or `frozen` |
//!
//! Nothing runs: a started container is a state file. `VERSION="X.Y.Z"` in `standin.conf` at
//! the root sets the version the tools behave as (default 4.9.4: `vzctl --version`, and
//! `vzlist` knows the `ctid` column from 4.0 on).

use std::path::{Path, PathBuf};

use virtkit_openvz_driver::VzConfig;

pub use virtkit_openvz_driver::{check_name, parse_ctid};

/// vzctl's exit codes (`include/vzerror.h`).
pub mod code {
    /// Generic system error.
    pub const SYSTEM: u8 = 3;
    /// Container configuration file not found.
    pub const NOVECONFIG: u8 = 14;
    /// Error during chkpnt.
    pub const CHKPNT: u8 = 16;
    /// Invalid command line syntax.
    pub const SYNTAX: u8 = 20;
    /// Invalid value for a parameter.
    pub const VALUE: u8 = 21;
    /// OS template not set.
    pub const OSTEMPLATE_NOTSET: u8 = 29;
    /// Container not running.
    pub const NOT_RUNNING: u8 = 31;
    /// Container running.
    pub const RUNNING: u8 = 32;
    /// Private area not found.
    pub const NOPRVT: u8 = 43;
    /// Private area already exists.
    pub const PRVT_EXIST: u8 = 44;
    /// Config file copying error.
    pub const CP_CONFIG: u8 = 82;
    /// OS template not found.
    pub const OSTEMPLATE_NOT_FOUND: u8 = 91;
    /// Container start disabled.
    pub const START_DISABLED: u8 = 105;
    /// Error setting container name.
    pub const SET_NAME: u8 = 131;
    /// Error saving container configuration file.
    pub const CONFIG_SAVE: u8 = 139;
}

/// A failure: vzctl's exit code and its message.
pub type Failure = (u8, String);

/// The stand-in host under a root directory.
pub struct Host {
    root: PathBuf,
}

/// A container's run state, as the kernel would know it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    /// Not running.
    Stopped,
    /// Running.
    Running,
    /// Running, frozen by `chkpnt --suspend`.
    Frozen,
}

impl Host {
    /// The host named by `VIRTKIT_OPENVZ_ROOT`.
    pub fn from_env(tool: &str) -> Result<Host, Failure> {
        match std::env::var_os("VIRTKIT_OPENVZ_ROOT") {
            Some(r) if Path::new(&r).is_absolute() => Ok(Host {
                root: PathBuf::from(r),
            }),
            _ => Err((
                code::SYSTEM,
                format!(
                    "{tool}: VIRTKIT_OPENVZ_ROOT is not set to an absolute directory (the stand-in keeps its containers there)"
                ),
            )),
        }
    }

    /// A host under `root`.
    pub fn at(root: &Path) -> Host {
        Host {
            root: root.to_path_buf(),
        }
    }

    /// Lays out an empty host (the directories, `proc/vz`, a `vz.conf`) with the given
    /// templates in the cache. For tests and the conformance run.
    pub fn init(root: &Path, default_template: &str, templates: &[&str]) -> std::io::Result<Host> {
        let h = Host::at(root);
        for d in [
            "etc/vz/conf",
            "vz/template/cache",
            "vz/private",
            "proc/vz/standin",
        ] {
            std::fs::create_dir_all(root.join(d))?;
        }
        std::fs::write(
            root.join("etc/vz/vz.conf"),
            format!(
                "## Global parameters\nVIRTUOZZ=yes\nDEF_OSTEMPLATE=\"{default_template}\"\nCONFIGFILE=\"basic\"\n"
            ),
        )?;
        std::fs::write(
            root.join("etc/vz/conf/ve-basic.conf-sample"),
            "# Sample config: basic\nONBOOT=\"no\"\nKMEMSIZE=\"14372700:14790164\"\nPRIVVMPAGES=\"65536:69632\"\nVMGUARPAGES=\"33792:unlimited\"\nPHYSPAGES=\"0:unlimited\"\nDISKSPACE=\"2000000:2200000\"\n",
        )?;
        for t in templates {
            std::fs::write(root.join(format!("vz/template/cache/{t}.tar.gz")), b"")?;
        }
        Ok(h)
    }

    /// The vzctl version this host behaves as (`standin.conf`'s `VERSION`, default 4.9.4).
    pub fn version(&self) -> String {
        std::fs::read_to_string(self.root.join("standin.conf"))
            .ok()
            .and_then(|t| VzConfig::parse(&t).get("VERSION").map(str::to_string))
            .unwrap_or_else(|| "4.9.4".into())
    }

    /// The major version.
    pub fn major(&self) -> u32 {
        self.version()
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(4)
    }

    /// The container configuration directory.
    pub fn confdir(&self) -> PathBuf {
        self.root.join("etc/vz/conf")
    }

    /// A container's config path.
    pub fn conf_path(&self, ctid: u32) -> PathBuf {
        self.confdir().join(format!("{ctid}.conf"))
    }

    /// A container's private area.
    pub fn private(&self, ctid: u32) -> PathBuf {
        self.root.join(format!("vz/private/{ctid}"))
    }

    /// The template cache file of `t`.
    pub fn cache(&self, t: &str) -> PathBuf {
        self.root.join(format!("vz/template/cache/{t}.tar.gz"))
    }

    fn state_path(&self, ctid: u32) -> PathBuf {
        self.root.join(format!("proc/vz/standin/{ctid}"))
    }

    /// The global config.
    pub fn global(&self) -> VzConfig {
        VzConfig::parse(
            &std::fs::read_to_string(self.root.join("etc/vz/vz.conf")).unwrap_or_default(),
        )
    }

    /// A container's config, when it exists.
    pub fn config(&self, ctid: u32) -> Option<VzConfig> {
        virtkit_hostio::read_string_capped(&self.conf_path(ctid), 1 << 20)
            .ok()
            .map(|t| VzConfig::parse(&t))
    }

    /// Writes a container's config atomically.
    pub fn save(&self, ctid: u32, conf: &VzConfig) -> Result<(), Failure> {
        virtkit_hostio::write_atomic(&self.conf_path(ctid), conf.to_text().as_bytes(), 0o644)
            .map_err(|e| {
                (
                    code::CONFIG_SAVE,
                    format!("Unable to save container configuration file: {e}"),
                )
            })
    }

    /// Every container with a config, in CTID order.
    pub fn ctids(&self) -> Vec<u32> {
        let mut v: Vec<u32> = std::fs::read_dir(self.confdir())
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()
                            .and_then(|n| n.strip_suffix(".conf"))
                            .and_then(parse_ctid)
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort_unstable();
        v
    }

    /// A container's run state.
    pub fn state(&self, ctid: u32) -> RunState {
        match std::fs::read_to_string(self.state_path(ctid))
            .as_deref()
            .map(str::trim)
        {
            Ok("running") => RunState::Running,
            Ok("frozen") => RunState::Frozen,
            _ => RunState::Stopped,
        }
    }

    /// Sets a container's run state.
    pub fn set_state(&self, ctid: u32, s: RunState) -> Result<(), Failure> {
        let p = self.state_path(ctid);
        let r = match s {
            RunState::Stopped => match std::fs::remove_file(&p) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
                _ => Ok(()),
            },
            RunState::Running | RunState::Frozen => {
                let text = if s == RunState::Running {
                    "running\n"
                } else {
                    "frozen\n"
                };
                std::fs::create_dir_all(p.parent().unwrap_or(Path::new("/")))
                    .map_err(|e| e.to_string())
                    .and_then(|()| {
                        virtkit_hostio::write_atomic(&p, text.as_bytes(), 0o644)
                            .map_err(|e| e.to_string())
                    })
            }
        };
        r.map_err(|e| {
            (
                code::SYSTEM,
                format!("Unable to change the container state: {e}"),
            )
        })
    }

    /// Resolves a CTID argument: a number, or the `NAME` of an existing container.
    pub fn resolve(&self, arg: &str) -> Result<u32, Failure> {
        if let Some(n) = parse_ctid(arg) {
            return Ok(n);
        }
        self.ctids()
            .into_iter()
            .find(|c| {
                self.config(*c)
                    .is_some_and(|conf| conf.get("NAME") == Some(arg))
            })
            .ok_or_else(|| (code::SYNTAX, format!("Bad CTID: {arg}")))
    }
}

/// A MAC address vzctl would generate: its OpenVZ prefix 00:18:51 and three bytes that differ
/// per call.
pub fn generated_mac(seed: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write(seed.as_bytes());
    let v = h.finish().to_le_bytes();
    format!("00:18:51:{:02X}:{:02X}:{:02X}", v[0], v[1], v[2])
}
