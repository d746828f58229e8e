//! Virtual networks.

use virtkit_abi::slots;
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
    /// The identity the core passes to drivers. Public for the conformance suite, which calls
    /// every operation through [`Connect::call`].
    #[doc(hidden)]
    pub fn host_ident(&self) -> NetworkIdent {
        self.ident.clone()
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
        self.conn.call::<slots::NetworkCreate>((&self.ident,))
    }
    /// Stops the network.
    pub fn destroy(&self) -> Result<()> {
        self.conn.call::<slots::NetworkDestroy>((&self.ident,))
    }
    /// Removes the persistent definition.
    pub fn undefine(&self) -> Result<()> {
        self.conn.call::<slots::NetworkUndefine>((&self.ident,))
    }
    /// The XML description.
    pub fn xml_desc(&self, flags: u32) -> Result<String> {
        self.conn
            .call::<slots::NetworkGetXmlDesc>((&self.ident, flags))
    }
    /// The host bridge the network uses.
    pub fn bridge_name(&self) -> Result<String> {
        self.conn
            .call::<slots::NetworkGetBridgeName>((&self.ident,))
    }
    /// Whether the network starts with the host.
    pub fn autostart(&self) -> Result<bool> {
        self.conn.call::<slots::NetworkGetAutostart>((&self.ident,))
    }
    /// Sets autostart.
    pub fn set_autostart(&self, on: bool) -> Result<()> {
        self.conn
            .call::<slots::NetworkSetAutostart>((&self.ident, on))
    }
    /// Whether the network is active.
    pub fn is_active(&self) -> Result<bool> {
        self.conn.call::<slots::NetworkIsActive>((&self.ident,))
    }
    /// Whether the network has a persistent definition.
    pub fn is_persistent(&self) -> Result<bool> {
        self.conn.call::<slots::NetworkIsPersistent>((&self.ident,))
    }
}
