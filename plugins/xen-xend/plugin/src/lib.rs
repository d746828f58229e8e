//! The xen-xend member built as a plugin: `libvirtkit_driver_xen_xend.so`.

virtkit_driver::export_plugin!(virtkit_xen_xend_driver::XendDriver);
