//! Virtual networks.

use virtkit_abi::Op;
use virtkit_loader::NetworkIdent;

use crate::connect::Connect;
use crate::error::Result;

/// A virtual network of a connection.
#[derive(Clone)]
pub struct Network {
    conn: Connect,
    ident: NetworkIdent,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("name", &self.ident.name)
            .finish()
    }
}

impl Network {
    pub(crate) fn new(conn: Connect, ident: NetworkIdent) -> Network {
        Network { conn, ident }
    }
    /// Name.
    pub fn name(&self) -> &str {
        &self.ident.name
    }
    /// UUID.
    pub fn uuid(&self) -> uuid::Uuid {
        uuid::Uuid::from_bytes(self.ident.uuid)
    }
    /// UUID as text.
    pub fn uuid_string(&self) -> String {
        self.uuid().hyphenated().to_string()
    }
    /// Starts an inactive network.
    pub fn create(&self) -> Result<()> {
        self.conn
            .dispatch(Op::NetworkCreate, |m| m.network_create(&self.ident))
    }
    /// Stops the network.
    pub fn destroy(&self) -> Result<()> {
        self.conn
            .dispatch(Op::NetworkDestroy, |m| m.network_destroy(&self.ident))
    }
    /// Removes the persistent definition.
    pub fn undefine(&self) -> Result<()> {
        self.conn
            .dispatch(Op::NetworkUndefine, |m| m.network_undefine(&self.ident))
    }
    /// The XML description.
    pub fn xml_desc(&self, flags: u32) -> Result<String> {
        self.conn.dispatch(Op::NetworkGetXmlDesc, |m| {
            m.network_get_xml_desc(&self.ident, flags)
        })
    }
    /// The host bridge the network uses.
    pub fn bridge_name(&self) -> Result<String> {
        self.conn.dispatch(Op::NetworkGetBridgeName, |m| {
            m.network_get_bridge_name(&self.ident)
        })
    }
    /// Whether the network starts with the host.
    pub fn autostart(&self) -> Result<bool> {
        self.conn.dispatch(Op::NetworkGetAutostart, |m| {
            m.network_get_autostart(&self.ident)
        })
    }
    /// Sets autostart.
    pub fn set_autostart(&self, on: bool) -> Result<()> {
        self.conn.dispatch(Op::NetworkSetAutostart, |m| {
            m.network_set_autostart(&self.ident, on)
        })
    }
    /// Whether the network is active.
    pub fn is_active(&self) -> Result<bool> {
        self.conn
            .dispatch(Op::NetworkIsActive, |m| m.network_is_active(&self.ident))
    }
    /// Whether the network has a persistent definition.
    pub fn is_persistent(&self) -> Result<bool> {
        self.conn.dispatch(Op::NetworkIsPersistent, |m| {
            m.network_is_persistent(&self.ident)
        })
    }
}
