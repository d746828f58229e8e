//! How documents are written out.

/// Which libvirt release's output a document imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum FormatStyle {
    /// `virsh dumpxml` of libvirt 9.0: sizes carry `unit='KiB'`, `<vcpu placement='static'>`,
    /// a VNC listen address is repeated in a `<listen>` child, host devices say `managed`.
    #[default]
    Current,
    /// libvirt 0.4.6, the era of the conformance corpus: sizes without units and nothing the old
    /// formatter did not write, so converters can reproduce the corpus byte for byte.
    Legacy,
}

/// Options for `to_xml`. The default is the libvirt 9.0 style, live (with `id` and run-time
/// details), without secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FormatOptions {
    /// The output style.
    pub style: FormatStyle,
    /// Write the inactive (persistent) form: no `id`, no run-time details such as the pty path
    /// of a console or an automatically allocated VNC port (libvirt's `--inactive`).
    pub inactive: bool,
    /// Include secrets such as the VNC password (libvirt's `--security-info`).
    pub secure: bool,
}

impl FormatOptions {
    /// The 0.4.6-era style, live, without secrets.
    pub fn legacy() -> Self {
        FormatOptions {
            style: FormatStyle::Legacy,
            ..Self::default()
        }
    }

    /// These options with a different style.
    pub fn with_style(mut self, style: FormatStyle) -> Self {
        self.style = style;
        self
    }

    /// These options with `inactive` set as given.
    pub fn with_inactive(mut self, inactive: bool) -> Self {
        self.inactive = inactive;
        self
    }

    /// These options with `secure` set as given.
    pub fn with_secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    pub(crate) fn legacy_style(&self) -> bool {
        self.style == FormatStyle::Legacy
    }
}
