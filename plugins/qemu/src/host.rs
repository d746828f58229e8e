//! Facts about the host: the SDK's one reader of /proc and sysfs ([`virtkit_driver::host`]).

pub use virtkit_driver::host::*;
