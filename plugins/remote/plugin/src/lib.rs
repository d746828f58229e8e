//! The remote driver built as a plugin: `libvirtkit_driver_remote.so`.

virtkit_driver::export_plugin!(virtkit_remote_driver::RemoteDriver);
