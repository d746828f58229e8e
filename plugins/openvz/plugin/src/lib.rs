//! The OpenVZ driver built as a plugin: `libvirtkit_driver_openvz.so`.

virtkit_driver::export_plugin!(virtkit_openvz_driver::OpenvzDriver);
