//! Calls through a driver's slots with no host-side shim (no error collection, no result
//! conversion, no serialisation), for the benchmark that times the bare table call against the
//! layers above it. Not for programs: use [`DriverConn`](crate::DriverConn).

use std::sync::Arc;

use virtkit_abi::{VK_OK, VkConn, VkErrorSink, VkStr};

use crate::validate::Driver;

unsafe extern "C" fn ignore_error(_ctx: *mut std::ffi::c_void, _code: i32, _message: VkStr) {}

const SINK: VkErrorSink = VkErrorSink {
    ctx: std::ptr::null_mut(),
    set: ignore_error,
};

/// A connection opened through a validated driver's `open` slot, whose calls go straight to the
/// slots. Not `Send`: nothing serialises its calls.
#[doc(hidden)]
pub struct RawConn {
    driver: Arc<Driver>,
    conn: VkConn,
}

impl RawConn {
    /// Opens `uri` through the driver's `open` slot.
    pub fn open(driver: &Arc<Driver>, uri: &str) -> Result<RawConn, String> {
        let open = driver.table.open.ok_or("no open slot")?;
        let mut conn: VkConn = std::ptr::null_mut();
        // SAFETY: the table was validated; the URI, the out-pointer and the sink are valid for
        // the call.
        let rc = unsafe { open(VkStr::new(uri), 0, &mut conn, &SINK) };
        if rc != VK_OK || conn.is_null() {
            return Err(format!("open through the table failed ({rc})"));
        }
        Ok(RawConn {
            driver: driver.clone(),
            conn,
        })
    }

    /// `get_version` through its slot (0 when the slot is NULL or the call fails).
    pub fn get_version(&self) -> u64 {
        let mut v = 0u64;
        if let Some(f) = self.driver.table.get_version {
            // SAFETY: `conn` came from this driver's open and is not closed yet; the out
            // pointer and the sink are valid for the call.
            unsafe { f(self.conn, &mut v, &SINK) };
        }
        v
    }

    /// `num_of_domains` through its slot (0 when the slot is NULL or the call fails).
    pub fn num_of_domains(&self) -> i32 {
        let mut v = 0i32;
        if let Some(f) = self.driver.table.num_of_domains {
            // SAFETY: as in `get_version`.
            unsafe { f(self.conn, &mut v, &SINK) };
        }
        v
    }
}

impl Drop for RawConn {
    fn drop(&mut self) {
        if let Some(close) = self.driver.table.close {
            // SAFETY: the handle came from this driver's open and is closed exactly once.
            unsafe { close(self.conn) };
        }
    }
}
